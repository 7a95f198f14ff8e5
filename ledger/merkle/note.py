"""C2SP signed-note envelopes (https://c2sp.org/signed-note) with Ed25519 keys.

A note is UTF-8 text: a non-empty body ending in ``\\n``, a blank line, then one or more signature
lines ``— <key name> <base64(4-byte key hash || signature)>\\n`` ("—" is U+2014, then a space).
No ASCII control character other than ``\\n`` may appear anywhere.

What is signed: exactly the UTF-8 bytes of the body, including its final newline and excluding
the blank line (pure Ed25519, RFC 8032, which hashes internally; no extra prefix or hashing here).

Ed25519 note key hash: the first 4 bytes of
``SHA-256(key name UTF-8 || 0x0A || 0x01 || 32-byte raw public key)``. It only routes a signature
line to a known key; it is *not* the ledger's ``key_id`` (first 16 hex of SHA-256(public key)).

Signers are injected (:class:`NoteSigner`), so keys may live in a KMS/HSM; the Ed25519 classes here
use ``cryptography``. Every failure raises :class:`CheckpointError` (a :class:`ValueError`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "ALG_ED25519",
    "CheckpointError",
    "Ed25519NoteSigner",
    "Ed25519NoteVerifier",
    "NoteSigner",
    "NoteVerifier",
    "ed25519_key_hash",
    "open_note",
    "sign_note",
]

SIG_PREFIX = "\u2014 "  # em dash + space
ALG_ED25519 = 0x01
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20


class CheckpointError(ValueError):
    """A signed note / checkpoint is malformed, not signed by a known key, or tampered with."""


class NoteSigner(Protocol):
    """Injected signer: ``sign`` returns a 64-byte Ed25519 signature over ``message`` as given."""

    name: str
    public_key_bytes: bytes

    def sign(self, message: bytes) -> bytes: ...


class NoteVerifier(Protocol):
    """Known key: ``verify`` returns ``True`` iff ``signature`` is valid over ``message``."""

    name: str
    key_hash: bytes

    def verify(self, message: bytes, signature: bytes) -> bool: ...


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64: padding required, and the text must be the canonical encoding."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise CheckpointError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise CheckpointError(f"{what} is not canonical base64")
    return raw


def _valid_name(name: object) -> bool:
    """Signed-note key names: non-empty, no Unicode whitespace, no '+', no control chars."""
    return (
        isinstance(name, str)
        and name != ""
        and "+" not in name
        and not any(c.isspace() or c < " " for c in name)
    )


def ed25519_key_hash(name: str, public_key_bytes: bytes) -> bytes:
    """Return ``SHA-256(name UTF-8 || 0x0A || 0x01 || public_key_bytes)[:4]`` (note key hash)."""
    if not _valid_name(name):
        raise CheckpointError(f"invalid note key name {name!r}")
    if len(public_key_bytes) != 32:
        raise CheckpointError("Ed25519 public key must be 32 raw bytes")
    data = name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + bytes(public_key_bytes)
    return hashlib.sha256(data).digest()[:4]


def sign_note(body: str, signers: Iterable[NoteSigner]) -> str:
    """Return ``body``, a blank line and one signature line per signer.

    Each signer signs the UTF-8 bytes of ``body``; its line is
    ``— <name> <base64(ed25519_key_hash(name, public key) || 64-byte signature)>``.
    """
    if not isinstance(body, str) or not body.endswith("\n") or "\n\n" in body:
        raise CheckpointError("note body must end with a newline and contain no blank line")
    message = body.encode("utf-8")
    lines = []
    for s in signers:
        key_hash = ed25519_key_hash(s.name, s.public_key_bytes)
        sig = s.sign(message)
        if not isinstance(sig, bytes) or len(sig) != 64:
            raise CheckpointError(f"signer {s.name!r} did not return a 64-byte Ed25519 signature")
        lines.append(f"{SIG_PREFIX}{s.name} {base64.b64encode(key_hash + sig).decode('ascii')}\n")
    if not lines:
        raise CheckpointError("at least one signer is required")
    return body + "\n" + "".join(lines)


def open_note(text: str | bytes, verifiers: Iterable[NoteVerifier]) -> str:
    """Verify a signed note and return its text (body), per C2SP signed-note.

    Signatures from unknown keys are ignored; any signature from a known ``(name, key hash)``
    that does not verify is an error; at least one known signature is required.
    """
    if isinstance(text, bytes | bytearray | memoryview):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError("note is not valid UTF-8") from None
    if not isinstance(text, str):
        raise CheckpointError(f"note must be str or bytes, not {type(text).__name__}")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise CheckpointError("note is not valid Unicode (lone surrogate)") from None
    if len(raw) > MAX_NOTE_BYTES:
        raise CheckpointError("note is too large")
    if any(c < " " and c != "\n" for c in text):
        raise CheckpointError("note contains a control character other than newline")
    split = text.rfind("\n\n")
    if split < 0:
        raise CheckpointError("note has no blank line before its signatures")
    body, block = text[: split + 1], text[split + 2 :]
    if not block or not block.endswith("\n"):
        raise CheckpointError("note must end with signature lines, each ending in a newline")
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for v in verifiers:
        if known.setdefault((v.name, bytes(v.key_hash)), v) is not v:
            raise CheckpointError(f"two verifiers share key name and hash {v.name!r}")
    message = body.encode("utf-8")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"note has more than {MAX_SIGNATURES} signatures")
    verified, seen = 0, []
    for line in lines:
        name, space, b64 = line.removeprefix(SIG_PREFIX).partition(" ")
        if not line.startswith(SIG_PREFIX) or not space or not _valid_name(name):
            raise CheckpointError(f"malformed signature line {line[:80]!r}")
        sig = _b64decode(b64, f"signature of {name!r}")
        if len(sig) < 5:
            raise CheckpointError(f"signature of {name!r} is too short")
        seen.append(f"{name}+{sig[:4].hex()}")
        v = known.get((name, sig[:4]))
        if v is None:
            continue
        if not v.verify(message, sig[4:]):
            raise CheckpointError(f"invalid signature for key {name}+{sig[:4].hex()}")
        verified += 1
    if not verified:
        raise CheckpointError(f"no signature from a known key (signed by: {', '.join(seen)})")
    return body


class Ed25519NoteVerifier:
    """A known Ed25519 note key (``name`` + 32-byte public key)."""

    def __init__(self, name: str, public_key: Ed25519PublicKey | bytes) -> None:
        if isinstance(public_key, bytes | bytearray):
            try:
                public_key = Ed25519PublicKey.from_public_bytes(bytes(public_key))
            except ValueError:
                raise CheckpointError("Ed25519 public key must be 32 raw bytes") from None
        self.name = name
        self._key = public_key
        self.public_key_bytes = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_hash = ed25519_key_hash(name, self.public_key_bytes)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is a valid pure-Ed25519 signature over ``message``."""
        if len(signature) != 64:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    @property
    def vkey(self) -> str:
        """Signed-note verifier key: ``<name>+<hex key hash>+<base64(0x01 || public key)>``."""
        key = base64.b64encode(bytes([ALG_ED25519]) + self.public_key_bytes).decode("ascii")
        return f"{self.name}+{self.key_hash.hex()}+{key}"

    @classmethod
    def from_vkey(cls, vkey: str) -> Ed25519NoteVerifier:
        """Parse a signed-note verifier key string (Ed25519 only)."""
        if not isinstance(vkey, str):
            raise CheckpointError("verifier key must be a string")
        name, _, rest = vkey.partition("+")
        hash_hex, _, key_b64 = rest.partition("+")
        key = _b64decode(key_b64, "verifier key")
        if len(key) != 33 or key[0] != ALG_ED25519:
            raise CheckpointError("verifier key is not an Ed25519 key")
        v = cls(name, key[1:])
        if v.key_hash.hex() != hash_hex:
            raise CheckpointError("verifier key hash does not match name and key")
        return v

    def __repr__(self) -> str:
        return f"Ed25519NoteVerifier({self.vkey!r})"


class Ed25519NoteSigner:
    """Ed25519 :class:`NoteSigner` over a ``cryptography`` private key (or 32-byte seed)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey | bytes) -> None:
        if not _valid_name(name):
            raise CheckpointError(f"invalid note key name {name!r}")
        if isinstance(private_key, bytes | bytearray):
            private_key = Ed25519PrivateKey.from_private_bytes(bytes(private_key))
        self.name = name
        self._key = private_key
        self.public_key_bytes = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_hash = ed25519_key_hash(name, self.public_key_bytes)

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte pure-Ed25519 signature over ``message`` (the note body bytes)."""
        return self._key.sign(message)

    def verifier(self) -> Ed25519NoteVerifier:
        return Ed25519NoteVerifier(self.name, self.public_key_bytes)

    def __repr__(self) -> str:
        return f"Ed25519NoteSigner(name={self.name!r}, key_hash={self.key_hash.hex()})"
