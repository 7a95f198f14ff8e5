"""The mutable secrets of users: Argon2id password hashes and wrapped e-signature keys.

Kept in the ``credentials`` table (migration 0100), never in the event log, so they can be
replaced on a password change and are never exported in a dossier.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Engine, text

from ..domain.credentials import WrappedKey
from ..timefmt import format_utc, utc_now


@dataclass(frozen=True)
class Credential:
    user_id: str
    password_hash: str
    wrapped_key: WrappedKey


class CredentialStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, user_id: str) -> Credential | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT password_hash, wrapped_key FROM credentials WHERE user_id = :u"),
                {"u": user_id},
            ).first()
        if row is None:
            return None
        return Credential(user_id, row[0], WrappedKey.from_dict(json.loads(row[1])))

    def put(self, credential: Credential) -> None:
        params = {
            "u": credential.user_id,
            "h": credential.password_hash,
            "k": json.dumps(credential.wrapped_key.to_dict()),
            "t": format_utc(utc_now()),
        }
        with self.engine.begin() as conn:
            updated = conn.execute(
                text("UPDATE credentials SET password_hash = :h, wrapped_key = :k, updated_at = :t "
                     "WHERE user_id = :u"),
                params,
            ).rowcount
            if not updated:
                conn.execute(
                    text("INSERT INTO credentials (user_id, password_hash, wrapped_key, updated_at) "
                         "VALUES (:u, :h, :k, :t)"),
                    params,
                )
