"""Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed-note envelopes.

Wire format (UTF-8 text; ``\\n`` is U+000A; no other ASCII control character is allowed)::

    <origin>\\n
    <tree size, ASCII decimal, no leading zeros>\\n
    <root hash, standard base64 with padding, 32 bytes>\\n
    [<extension line>\\n ...]            (accepted and kept when opening; we emit none)
    \\n
    — <key name> <base64(4-byte key hash || signature)>\\n   (one or more; "—" is U+2014)

What is signed: the *body*, i.e. the UTF-8 bytes of every line above the blank line including the
last body newline (exactly :func:`format_body`), with no prefix or hashing by this module (Ed25519
hashes internally, RFC 8032 pure Ed25519).

The signed-note envelope, the key hash and the Ed25519 signer/verifier live in
:mod:`ledger.merkle.note` and are re-exported here.

Deliberately outside the signed body: ``issued_at`` and ``key_id``. The ledger stores them beside
the checkpoint text as unsigned metadata; they must never be trusted for anything the signature is
meant to protect, and adding them to the body would break interoperability with C2SP verifiers.

Stricter than the format strictly requires: the origin must be non-empty and free of control
characters, base64 must be canonical, and a size-0 checkpoint must carry ``SHA-256("")`` as root.

Signers are injected (:class:`NoteSigner`). Every parsing or verification failure raises
:class:`CheckpointError` (a :class:`ValueError`) with a reason.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .hashing import EMPTY_ROOT, HASH_SIZE
from .note import (
    CheckpointError,
    Ed25519NoteSigner,
    Ed25519NoteVerifier,
    NoteSigner,
    NoteVerifier,
    _b64decode,
    ed25519_key_hash,
    open_note,
    sign_note,
)

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "Ed25519NoteSigner",
    "Ed25519NoteVerifier",
    "NoteSigner",
    "NoteVerifier",
    "ed25519_key_hash",
    "format_body",
    "open_checkpoint",
    "open_note",
    "sign_checkpoint",
]

_MAX_SIZE = 2**64 - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)


def _check_text(value: str, what: str) -> None:
    if not isinstance(value, str):
        raise CheckpointError(f"{what} must be a string")
    if any(c < " " for c in value):
        raise CheckpointError(f"{what} contains a control character or newline")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise CheckpointError(f"{what} is not valid Unicode (lone surrogate)") from None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's commitment to its tree: ``origin``, ``tree_size`` and 32-byte RFC 9162 ``root``."""

    origin: str
    tree_size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_text(self.origin, "origin")
        if not self.origin:
            raise CheckpointError("origin must not be empty")
        size = self.tree_size
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= _MAX_SIZE:
            raise CheckpointError(f"tree size must be an integer in [0, 2**64), got {size!r}")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise CheckpointError(f"root must be {HASH_SIZE} bytes")
        if size == 0 and self.root != EMPTY_ROOT:
            raise CheckpointError("a tree of size 0 must have the empty-tree root SHA-256('')")
        if not isinstance(self.extensions, tuple):
            raise CheckpointError("extensions must be a tuple of strings")
        for line in self.extensions:
            _check_text(line, "extension line")
            if not line:
                raise CheckpointError("extension lines must not be empty")


def format_body(cp: Checkpoint) -> str:
    """Return the checkpoint body (the signed text): origin, size, base64 root, extensions."""
    root = base64.b64encode(cp.root).decode("ascii")
    return "".join(f"{line}\n" for line in (cp.origin, str(cp.tree_size), root, *cp.extensions))


def _parse_body(body: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise CheckpointError("checkpoint body needs origin, tree size and root lines")
    origin, size_text, root_text, *extensions = lines[:-1]
    if not _DECIMAL.fullmatch(size_text):
        raise CheckpointError("tree size line is not a canonical decimal number")
    if len(size_text) > 20 or int(size_text) > _MAX_SIZE:
        raise CheckpointError("tree size exceeds 2**64 - 1")
    root = _b64decode(root_text, "root hash")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(cp: Checkpoint, signer: NoteSigner, *more_signers: NoteSigner) -> str:
    """Return the signed checkpoint note: ``format_body(cp)``, a blank line, a line per signer.

    Each signer signs the UTF-8 bytes of ``format_body(cp)`` (see :func:`.note.sign_note`).
    """
    return sign_note(format_body(cp), (signer, *more_signers))


def open_checkpoint(
    text: str | bytes, verifiers: Iterable[NoteVerifier], *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint (see :func:`open_note`) and parse its body.

    If ``origin`` is given, the checkpoint must be for that log. Raises :class:`CheckpointError`.
    """
    cp = _parse_body(open_note(text, verifiers))
    if origin is not None and cp.origin != origin:
        raise CheckpointError(f"checkpoint is for origin {cp.origin!r}, expected {origin!r}")
    return cp
