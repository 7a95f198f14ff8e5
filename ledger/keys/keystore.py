"""Sealing keys on disk: encrypted private PEMs plus a public key ring.

Layout of a key directory::

    keyring.json              public keys with validity periods (publish this)
    sealing-<key_id>.pem      PKCS#8 private key, encrypted with the passphrase

The active key is the one in the ring without ``valid_until``. Rotation creates a new key,
retires the active one at the same instant, and keeps every public key forever.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
)

from ..timefmt import utc_now
from .sealing import KeyRing, SealingKey, key_id_of, raw_public_key


class KeyStoreError(Exception):
    """The key directory is missing, inconsistent, or the passphrase is wrong."""


def encrypt_pem(private_key: Ed25519PrivateKey, passphrase: str) -> bytes:
    if not passphrase:
        raise KeyStoreError("a sealing key is never stored without a passphrase")
    return private_key.private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(passphrase.encode())
    )


def decrypt_pem(pem: bytes, passphrase: str) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(pem, passphrase.encode() if passphrase else None)
    except (ValueError, TypeError) as exc:
        raise KeyStoreError(f"cannot open the sealing key (wrong passphrase?): {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyStoreError("the sealing key is not an Ed25519 key")
    return key


_READ_RINGS: dict[Path, tuple[tuple[int, int, int], KeyRing]] = {}  # ring file -> (its stat when read, ring)


class KeyStore:
    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    @property
    def ring_path(self) -> Path:
        return self.directory / "keyring.json"

    def exists(self) -> bool:
        return self.ring_path.exists()

    def key_ring(self) -> KeyRing:
        """The published ring, read again only when the file is another (inode, time or size
        differ: a rotation replaces it); a read route checking seals asks for it every request."""
        try:
            stat = self.ring_path.stat()
            seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            known = _READ_RINGS.get(self.ring_path)
            if known is not None and known[0] == seen:
                return known[1]
            ring = KeyRing.from_json(json.loads(self.ring_path.read_text()))
        except FileNotFoundError:
            raise KeyStoreError(f"no key ring at {self.ring_path}: run `ledger init`") from None
        except (ValueError, KeyError) as exc:
            raise KeyStoreError(f"the key ring {self.ring_path} is damaged: {exc}") from None
        _READ_RINGS[self.ring_path] = (seen, ring)  # replaced mid-read: the next stat differs, it is read again
        return ring

    def active_key(self, passphrase: str) -> SealingKey:
        ring = self.key_ring()
        active = [k for k in ring.keys.values() if k.valid_until is None]
        if len(active) != 1:
            raise KeyStoreError(f"the key ring must have exactly one active key, has {len(active)}")
        published = active[0]
        pem_path = self.directory / f"sealing-{published.key_id}.pem"
        try:
            private = decrypt_pem(pem_path.read_bytes(), passphrase)
        except FileNotFoundError:
            raise KeyStoreError(f"private key {pem_path} is missing") from None
        if key_id_of(raw_public_key(private.public_key())) != published.key_id:
            raise KeyStoreError(f"{pem_path} does not hold key {published.key_id}")
        return SealingKey(private, published.valid_from)

    def create(self, passphrase: str, now: datetime | None = None) -> SealingKey:
        """Create the first sealing key; refuses when a key ring exists already."""
        if self.exists():
            raise KeyStoreError(f"a key ring exists already at {self.ring_path}")
        key = self._new_key(passphrase, now or utc_now())
        self._write_ring(KeyRing().with_key(key.published()))
        return key

    def rotate(self, passphrase: str, now: datetime | None = None) -> SealingKey:
        """Retire the active key (checking the passphrase opens it) and start a new one."""
        moment = now or utc_now()
        old = self.active_key(passphrase)
        new = self._new_key(passphrase, moment)
        ring = self.key_ring().retire(old.key_id, moment).with_key(new.published())
        self._write_ring(ring)
        return new

    def _new_key(self, passphrase: str, now: datetime) -> SealingKey:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = SealingKey(Ed25519PrivateKey.generate(), now)
        path = self.directory / f"sealing-{key.key_id}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(encrypt_pem(key.private_key, passphrase))
        return key

    def _write_ring(self, ring: KeyRing) -> None:
        tmp = self.ring_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(ring.to_json(), indent=2) + "\n")
        os.replace(tmp, self.ring_path)
