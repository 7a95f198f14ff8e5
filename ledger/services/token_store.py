"""Bearer tokens: short-lived for people, long-lived and revocable for devices and integrators.

Only the SHA-256 digest of a token is stored; the token itself is shown once, at issue. Each
token also has a random public ``token_id`` (never derived from the token), by which it is
listed, revoked and named in the ``TokenIssued`` / ``TokenRevoked`` events.

Every token that ends (revoked, refreshed, signed out, or all of a principal's) is announced
(``ledger.store.notices``): in the revoking transaction to every PostgreSQL listener, and to this
process once committed, so no process keeps serving a principal it cached for that token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, text

from ..store import notices
from ..timefmt import format_utc, parse_utc, utc_now

TOKEN_PREFIX = "ldg_"  # noqa: S105 - a marker, not a secret
_COLUMNS = "token_id, principal, kind, label, issued_at, expires_at, revoked_at, session_started_at"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token_id() -> str:
    return "tok-" + secrets.token_hex(8)


@dataclass(frozen=True)
class TokenRecord:
    token_id: str
    principal: str
    kind: str  # "user" (a person's sign-in) | "device" | "integrator"
    label: str | None
    issued_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    session_started_at: datetime

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def live(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def _record(row) -> TokenRecord:
    def at(value: str | None) -> datetime | None:
        return parse_utc(value) if value else None

    issued = parse_utc(row[4])
    return TokenRecord(row[0], row[1], row[2], row[3], issued, at(row[5]), at(row[6]), at(row[7]) or issued)


class TokenStore:
    def __init__(self, engine: Engine, *, notices_url: str | None = None) -> None:
        """``notices_url``: the database's URL as the ledger names it (its change notices' key)."""
        self.engine = engine
        self.notices_url = notices_url or engine.url.render_as_string(hide_password=False)

    def _announce(self, conn: Connection, told: list[str]) -> None:
        """Inside the ending transaction: tell every other process (PostgreSQL) at commit."""
        if told and conn.dialect.name == "postgresql":
            for notice in told:
                conn.execute(text("SELECT pg_notify(:c, :n)"), {"c": notices.CHANNEL, "n": notice})

    def _told(self, told: list[str]) -> None:
        """After the commit: tell this process."""
        if told:
            notices.publish(self.notices_url, told)

    def issue(self, principal: str, kind: str, *, ttl: timedelta | None, label: str | None = None) -> str:
        """A new token (a person's sign-in: its session starts now), shown only here."""
        expires_at = utc_now() + ttl if ttl is not None else None
        return self.issue_record(principal, kind, expires_at=expires_at, label=label)[0]

    def issue_record(self, principal: str, kind: str, *, expires_at: datetime | None, label: str | None = None,
                     token_id: str | None = None) -> tuple[str, TokenRecord]:
        """A new token and its record (``token_id``: one already named by a ``TokenIssued``)."""
        now = utc_now()
        with self.engine.begin() as conn:
            return self._insert(conn, principal, kind, label=label, token_id=token_id or new_token_id(),
                                issued=now, expires=expires_at, session=now)

    @staticmethod
    def _insert(conn: Connection, principal: str, kind: str, *, label: str | None, token_id: str,
                issued: datetime, expires: datetime | None, session: datetime) -> tuple[str, TokenRecord]:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        conn.execute(
            text("INSERT INTO access_tokens (token_digest, token_id, principal, kind, label, issued_at, "
                 "expires_at, session_started_at) VALUES (:d, :id, :p, :k, :l, :i, :e, :s)"),
            {"d": digest(token), "id": token_id, "p": principal, "k": kind, "l": label, "i": format_utc(issued),
             "e": format_utc(expires) if expires else None, "s": format_utc(session)},
        )
        return token, TokenRecord(token_id, principal, kind, label, issued, expires, None, session)

    def lookup(self, token: str) -> TokenRecord | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        return self._one("token_digest", digest(token))

    def by_id(self, token_id: str) -> TokenRecord | None:
        return self._one("token_id", token_id)

    def _one(self, column: str, value: str) -> TokenRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(text(f"SELECT {_COLUMNS} FROM access_tokens WHERE {column} = :v"),  # noqa: S608
                               {"v": value}).first()
        return None if row is None else _record(row)

    def listing(self, principal: str | None = None, *, include_ended: bool = False,
                limit: int = 1000) -> list[TokenRecord]:
        """Tokens, newest first; by default only those neither revoked nor expired."""
        where, params = [], {"n": limit}
        if principal is not None:
            where.append("principal = :p")
            params["p"] = principal
        if not include_ended:
            where.append("revoked_at IS NULL AND (expires_at IS NULL OR expires_at > :now)")
            params["now"] = format_utc(utc_now())
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        with self.engine.connect() as conn:
            rows = conn.execute(text(f"SELECT {_COLUMNS} FROM access_tokens {clause}"  # noqa: S608
                                     "ORDER BY issued_at DESC, token_id LIMIT :n"), params).all()
        return [_record(r) for r in rows]

    def refresh(self, token: str, *, ttl: timedelta, session_limit: timedelta) -> tuple[str, TokenRecord] | None:
        """Exchange a live person's token for a new one of the same session (the old one is
        revoked in the same transaction, so a token is refreshed at most once); the new one
        expires ``ttl`` from now, but never later than ``session_limit`` after the sign-in.
        None when the token is not a live person's token or its session has ended."""
        record = self.lookup(token)
        now = utc_now()
        if record is None or record.kind != "user" or not record.live(now):
            return None
        end = record.session_started_at + session_limit
        if end <= now:
            return None
        with self.engine.begin() as conn:
            told = self._revoke(conn, "token_digest", digest(token), now)
            if not told:
                return None  # refreshed or revoked meanwhile
            refreshed = self._insert(conn, record.principal, record.kind, label=record.label,
                                     token_id=new_token_id(), issued=now, expires=min(now + ttl, end),
                                     session=record.session_started_at)
        self._told(told)
        return refreshed

    def revoke(self, token: str) -> bool:
        """Revoke one token (a signed-out session); True if it was live."""
        with self.engine.begin() as conn:
            told = self._revoke(conn, "token_digest", digest(token), utc_now())
        self._told(told)
        return bool(told)

    def revoke_id(self, token_id: str) -> bool:
        """Revoke the token ``token_id``; True if it was not revoked before."""
        with self.engine.begin() as conn:
            told = self._revoke(conn, "token_id", token_id, utc_now())
        self._told(told)
        return bool(told)

    def _revoke(self, conn: Connection, column: str, value: str, now: datetime) -> list[str]:
        """The notices of the token it revoked (none if it was revoked already)."""
        ended = conn.execute(
            text(f"UPDATE access_tokens SET revoked_at = :t WHERE {column} = :v AND revoked_at IS NULL "  # noqa: S608
                 "RETURNING token_digest"),
            {"t": format_utc(now), "v": value},
        ).scalars().all()
        told = [notices.token_notice(d) for d in ended]
        self._announce(conn, told)
        return told

    def revoke_all(self, principal: str) -> int:
        told = [notices.principal_notice(principal)]
        with self.engine.begin() as conn:
            count = conn.execute(
                text("UPDATE access_tokens SET revoked_at = :t WHERE principal = :p AND revoked_at IS NULL"),
                {"t": format_utc(utc_now()), "p": principal},
            ).rowcount
            self._announce(conn, told)
        self._told(told)
        return count
