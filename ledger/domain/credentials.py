"""Passwords and personal signing keys (21 CFR 11.200, 11.300): pure crypto, no storage.

* Passwords: Argon2id (argon2-cffi ``PasswordHasher``). The encoded hash carries its own
  parameters, so hashes made with older parameters still verify (see :func:`needs_rehash`).
* Signing keys: one Ed25519 key per user. The 32-byte private key is wrapped with
  AES-256-GCM under a key derived from the user's password with Argon2id (raw, random
  16-byte salt); the associated data binds the ciphertext to the key id, so a wrapped key
  moved onto another key's row does not open. The service stores :class:`WrappedKey` (and
  the password hash) in its mutable credentials table; neither ever appears in an event.
* ``key_id`` = first 16 hex characters of SHA-256 of the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from zxcvbn import zxcvbn

from ..errors import InvalidEvent, Unauthorised

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
_AAD = b"coi-ledger:signing-key:v1:"


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost; the default is RFC 9106's second recommended option (64 MiB, t=3, p=4)."""

    time_cost: int = 3
    memory_cost: int = 65536  # KiB
    parallelism: int = 4
    hash_len: int = 32
    salt_len: int = 16


DEFAULT_PARAMS = Argon2Params()
FAST_TEST_PARAMS = Argon2Params(time_cost=1, memory_cost=8, parallelism=1)
"""Insecure, for tests only."""


class WrongPassword(Unauthorised):
    code = "WRONG_PASSWORD"


def password_hasher(params: Argon2Params = DEFAULT_PARAMS) -> PasswordHasher:
    return PasswordHasher(time_cost=params.time_cost, memory_cost=params.memory_cost,
                          parallelism=params.parallelism, hash_len=params.hash_len,
                          salt_len=params.salt_len, type=Type.ID)


def hash_password(password: str, params: Argon2Params = DEFAULT_PARAMS) -> str:
    """Encoded Argon2id hash (``$argon2id$v=19$m=...``) of ``password``."""
    return password_hasher(params).hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True iff ``password`` matches ``stored_hash``; False (never an exception) otherwise."""
    try:
        return password_hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, params: Argon2Params = DEFAULT_PARAMS) -> bool:
    return password_hasher(params).check_needs_rehash(stored_hash)


MIN_STRENGTH = 3
"""The least zxcvbn score (0-4) accepted: 3 is "safely unguessable: moderate protection from an
offline slow-hash scenario" (10^10 guesses), and refuses common passwords and their variants."""


def check_password_policy(password: str, *, user_id: str | None = None, min_length: int = MIN_PASSWORD,
                          hints: Sequence[str] = ()) -> None:
    """Refuse (``WEAK_PASSWORD``, 422, the reason in the detail) a password that is shorter than
    ``min_length`` or huge, only whitespace, contains the user id, or is easy to guess (zxcvbn
    score below :data:`MIN_STRENGTH`, with ``user_id`` and ``hints`` such as the printed name as
    words an attacker would try first)."""
    def weak(reason: str) -> InvalidEvent:
        return InvalidEvent(reason, code="WEAK_PASSWORD")

    if not isinstance(password, str) or not min_length <= len(password) <= MAX_PASSWORD:
        raise weak(f"a password has {min_length} to {MAX_PASSWORD} characters")
    if not password.strip():
        raise weak("a password must not be only whitespace")
    if user_id and user_id.casefold() in password.casefold():
        raise weak("a password must not contain the user id")
    strength = zxcvbn(password[:100], user_inputs=[w for w in (user_id, *hints) if w])
    if strength["score"] < MIN_STRENGTH:
        advice = strength["feedback"]["warning"] or " ".join(strength["feedback"]["suggestions"])
        raise weak(f"the password is too easy to guess{': ' + advice if advice else ''}")


def key_id_of(public_raw: bytes) -> str:
    """First 16 hex characters of SHA-256 over the raw 32-byte Ed25519 public key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def public_raw(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class WrappedKey:
    """A private signing key sealed under a password-derived key (AES-256-GCM)."""

    salt: bytes
    nonce: bytes
    ciphertext: bytes
    params: Argon2Params
    key_id: str
    algorithm: str = "AES-256-GCM"
    kdf: str = "argon2id"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the credentials table (bytes as standard base64)."""
        b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
        return {"salt": b64(self.salt), "nonce": b64(self.nonce),
                "ciphertext": b64(self.ciphertext), "params": asdict(self.params),
                "key_id": self.key_id, "algorithm": self.algorithm, "kdf": self.kdf}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WrappedKey:
        if data.get("algorithm") != "AES-256-GCM" or data.get("kdf") != "argon2id":
            raise ValueError("unsupported wrapped key format")
        raw = lambda k: base64.b64decode(data[k], validate=True)  # noqa: E731
        return cls(raw("salt"), raw("nonce"), raw("ciphertext"),
                   Argon2Params(**data["params"]), data["key_id"])


def _kek(password: str, salt: bytes, params: Argon2Params) -> bytes:
    return hash_secret_raw(password.encode("utf-8"), salt, time_cost=params.time_cost,
                           memory_cost=params.memory_cost, parallelism=params.parallelism,
                           hash_len=32, type=Type.ID)


def _wrap(private_key: Ed25519PrivateKey, password: str, params: Argon2Params) -> WrappedKey:
    key_id = key_id_of(public_raw(private_key))
    salt, nonce = secrets.token_bytes(params.salt_len), secrets.token_bytes(12)
    secret = private_key.private_bytes_raw()
    ciphertext = AESGCM(_kek(password, salt, params)).encrypt(
        nonce, secret, _AAD + key_id.encode("ascii"))
    return WrappedKey(salt, nonce, ciphertext, params, key_id)


def new_signing_key(password: str, *, params: Argon2Params = DEFAULT_PARAMS,
                    ) -> tuple[WrappedKey, str, str]:
    """A fresh Ed25519 key: ``(wrapped private key, public key base64, key_id)``.

    The public key (standard base64 of the 32 raw bytes) and ``key_id`` go into a
    ``UserSigningKeyIssued`` event; the wrapped key into the credentials table.
    """
    private_key = Ed25519PrivateKey.generate()
    wrapped = _wrap(private_key, password, params)
    return wrapped, base64.b64encode(public_raw(private_key)).decode("ascii"), wrapped.key_id


def unwrap_signing_key(wrapped: WrappedKey, password: str) -> Ed25519PrivateKey:
    """Open the wrapped key with ``password``; raises :class:`WrongPassword` if it does not.

    The caller signs and then drops the returned key (it is never cached or stored).
    """
    try:
        secret = AESGCM(_kek(password, wrapped.salt, wrapped.params)).decrypt(
            wrapped.nonce, wrapped.ciphertext, _AAD + wrapped.key_id.encode("ascii"))
    except (InvalidTag, ValueError):
        raise WrongPassword("the password does not open this signing key") from None
    private_key = Ed25519PrivateKey.from_private_bytes(secret)
    if key_id_of(public_raw(private_key)) != wrapped.key_id:  # pragma: no cover - AAD binds it
        raise WrongPassword("the wrapped key does not match its key id")
    return private_key


def rewrap(wrapped: WrappedKey, old_password: str, new_password: str, *,
           params: Argon2Params | None = None) -> WrappedKey:
    """The same key under a new password (new salt and nonce): for password changes.

    Raises :class:`WrongPassword` if ``old_password`` does not open it. The key id, and so
    every signature made with the key, stays valid.
    """
    private_key = unwrap_signing_key(wrapped, old_password)
    return _wrap(private_key, new_password, params or wrapped.params)
