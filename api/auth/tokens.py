"""Bearer tokens: short-lived for people, long-lived and revocable for devices and integrators.

Only the SHA-256 digest of a token is stored; the token itself is shown once, at issue.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, text

from ledger.timefmt import format_utc, parse_utc, utc_now

TOKEN_PREFIX = "ldg_"  # noqa: S105 - a marker, not a secret


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenRecord:
    principal: str
    kind: str  # "user" | "device" | "integrator"
    expires_at: datetime | None
    revoked: bool


class TokenStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def issue(self, principal: str, kind: str, *, ttl: timedelta | None, label: str | None = None) -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = utc_now()
        with self.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO access_tokens (token_digest, principal, kind, label, issued_at, expires_at) "
                     "VALUES (:d, :p, :k, :l, :i, :e)"),
                {"d": digest(token), "p": principal, "k": kind, "l": label, "i": format_utc(now),
                 "e": format_utc(now + ttl) if ttl else None},
            )
        return token

    def lookup(self, token: str) -> TokenRecord | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT principal, kind, expires_at, revoked_at FROM access_tokens WHERE token_digest = :d"),
                {"d": digest(token)},
            ).first()
        if row is None:
            return None
        return TokenRecord(row[0], row[1], parse_utc(row[2]) if row[2] else None, row[3] is not None)

    def revoke(self, token: str) -> bool:
        """Revoke one token (a signed-out session); True if it was live."""
        with self.engine.begin() as conn:
            return bool(conn.execute(
                text("UPDATE access_tokens SET revoked_at = :t WHERE token_digest = :d AND revoked_at IS NULL"),
                {"t": format_utc(utc_now()), "d": digest(token)},
            ).rowcount)

    def revoke_all(self, principal: str) -> int:
        with self.engine.begin() as conn:
            return conn.execute(
                text("UPDATE access_tokens SET revoked_at = :t WHERE principal = :p AND revoked_at IS NULL"),
                {"t": format_utc(utc_now()), "p": principal},
            ).rowcount
