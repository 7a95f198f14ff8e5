"""Subscriptions' signing secrets: made, shown once, kept only sealed.

A secret is Standard Webhooks' ``whsec_`` + base64 of 32 random bytes. The ledger keeps it
sealed with AES-GCM under the server's webhook key (32 random bytes in ``webhook-secrets.key``
in the keys directory, created on first start like the other keys there, readable by the
service's account only), the subscription's id as associated data, so a sealed secret cannot
be moved to another subscription.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_FILE = "webhook-secrets.key"
PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class SecretBox:
    """Seals and opens subscriptions' secrets with one AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the webhook key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def in_keys_dir(cls, keys_dir: Path) -> SecretBox:
        """The box of the key in ``keys_dir``, creating the key on first use (exclusively, so two
        processes starting together end with the same key)."""
        path = Path(keys_dir) / KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as out:
                    out.write(secrets.token_bytes(32))
        key = path.read_bytes()
        return cls(key)

    def seal(self, subscription_id: str, secret: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), subscription_id.encode())
        return base64.b64encode(nonce + sealed).decode()

    def open(self, subscription_id: str, sealed: str) -> str:
        raw = base64.b64decode(sealed)
        return self._aead.decrypt(raw[:12], raw[12:], subscription_id.encode()).decode()
