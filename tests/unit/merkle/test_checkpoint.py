"""Signed notes and checkpoints: known answers, round trips, tampering, hostile input."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    EMPTY_ROOT,
    Checkpoint,
    CheckpointError,
    Ed25519NoteSigner,
    Ed25519NoteVerifier,
    format_body,
    leaf_hash,
    open_checkpoint,
    open_note,
    sign_checkpoint,
)
from ledger.merkle.note import sign_note

DASH = "\u2014"

# golang.org/x/mod/sumdb/note documentation example (Ed25519 is deterministic, so signing must
# reproduce the published note byte for byte).
GO_SKEY_B64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"  # 0x01 || seed
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_SIG = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
# C2SP signed-note specification example.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    f"{DASH} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3"
    "mFXmRKuwHjG1Yu72IneyaQM=\n"
)

ORIGIN = "coi-ledger.example/log"
KEY = Ed25519NoteSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
CP = Checkpoint(ORIGIN, 12345, leaf_hash(b"root"))
URLSAFE_ROOT = base64.urlsafe_b64encode(bytes([0xFF]) * 32).decode()  # "_" instead of "/"


def _go_signer() -> Ed25519NoteSigner:
    return Ed25519NoteSigner("PeterNeumann", base64.b64decode(GO_SKEY_B64)[1:])


def test_go_reference_note_is_reproduced_and_opened() -> None:
    signer = _go_signer()
    assert signer.key_hash.hex() == "c74f20a3"
    assert signer.verifier().vkey == GO_VKEY
    note = sign_note(GO_TEXT, [signer])
    assert note == f"{GO_TEXT}\n{DASH} PeterNeumann {GO_SIG}\n"
    assert open_note(note, [Ed25519NoteVerifier.from_vkey(GO_VKEY)]) == GO_TEXT


def test_c2sp_spec_example_note_opens() -> None:
    verifier = Ed25519NoteVerifier.from_vkey(SPEC_VKEY)
    assert verifier.vkey == SPEC_VKEY
    assert open_note(SPEC_NOTE, [verifier]) == "This is an example message.\n"
    assert open_note(SPEC_NOTE.encode("utf-8"), [verifier]) == "This is an example message.\n"


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "PeterNeumann",
        GO_VKEY.replace("c74f20a3", "c74f20a4"),
        GO_VKEY.replace("+ARpc", "+AhRpc"),
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_bad_verifier_keys_are_rejected(vkey: str) -> None:
    with pytest.raises(CheckpointError):
        Ed25519NoteVerifier.from_vkey(vkey)


def test_checkpoint_format_and_round_trip() -> None:
    text = sign_checkpoint(CP, KEY)
    root_b64 = base64.b64encode(CP.root).decode()
    assert format_body(CP) == f"{ORIGIN}\n12345\n{root_b64}\n"
    body, sig_line = text.split("\n\n")
    assert body + "\n" == format_body(CP)
    assert sig_line.startswith(f"{DASH} {ORIGIN} ") and sig_line.endswith("\n")
    raw = base64.b64decode(sig_line.split(" ")[2])
    assert raw[:4] == KEY.key_hash and len(raw) == 68
    assert KEY.verifier().verify(format_body(CP).encode(), raw[4:])
    assert open_checkpoint(text, [KEY.verifier()]) == CP
    assert open_checkpoint(text, [KEY.verifier()], origin=ORIGIN) == CP
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(text, [KEY.verifier()], origin="other.example/log")


def test_empty_tree_and_extensions_round_trip() -> None:
    empty = Checkpoint(ORIGIN, 0, EMPTY_ROOT)
    assert open_checkpoint(sign_checkpoint(empty, KEY), [KEY.verifier()]) == empty
    ext = Checkpoint(ORIGIN, 7, leaf_hash(b"x"), ("Timestamp: 1700000000",))
    assert open_checkpoint(sign_checkpoint(ext, KEY), [KEY.verifier()]) == ext


def test_cosigners_and_unknown_keys() -> None:
    witness = Ed25519NoteSigner("witness.example", Ed25519PrivateKey.generate())
    text = sign_checkpoint(CP, KEY, witness)
    assert open_checkpoint(text, [KEY.verifier()]) == CP  # unknown witness line is ignored
    assert open_checkpoint(text, [witness.verifier()]) == CP
    assert open_checkpoint(text, [KEY.verifier(), witness.verifier()]) == CP
    stranger = Ed25519NoteSigner(ORIGIN, Ed25519PrivateKey.generate())  # same name, other key
    with pytest.raises(CheckpointError, match="no signature from a known key"):
        open_checkpoint(sign_checkpoint(CP, KEY), [stranger.verifier()])
    with pytest.raises(CheckpointError, match="no signature from a known key"):
        open_checkpoint(sign_checkpoint(CP, KEY), [])
    renamed = Ed25519NoteVerifier("other-name", KEY.public_key_bytes)
    with pytest.raises(CheckpointError, match="no signature from a known key"):
        open_checkpoint(sign_checkpoint(CP, KEY), [renamed])


def test_a_bad_signature_from_a_known_key_fails_even_beside_a_good_one() -> None:
    witness = Ed25519NoteSigner("witness.example", Ed25519PrivateKey.generate())
    good = sign_checkpoint(CP, KEY)
    forged_line = sign_checkpoint(Checkpoint(ORIGIN, 1, CP.root), witness).split("\n\n")[1]
    with pytest.raises(CheckpointError, match="invalid signature for key witness.example"):
        open_checkpoint(good + forged_line, [KEY.verifier(), witness.verifier()])


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace(ORIGIN + "\n", "coi-ledger.example/other\n", 1),
        lambda t: t.replace("\n12345\n", "\n12346\n", 1),
        lambda t: t.replace("\n12345\n", "\n012345\n", 1),
        lambda t: t.replace(
            base64.b64encode(CP.root).decode(), base64.b64encode(leaf_hash(b"other")).decode()
        ),
        lambda t: t[:-3] + ("A" if t[-3] != "A" else "B") + t[-2:],
        lambda t: t.replace(f"{DASH} {ORIGIN}", f"- {ORIGIN}"),
        lambda t: t + "trailing garbage\n",
        lambda t: t + "trailing garbage",
        lambda t: t + "\n",
        lambda t: t.replace("\n\n", "\n"),
        lambda t: t.replace("\n", "\r\n"),
        lambda t: "\ufeff" + t,
        lambda t: t.split("\n\n")[0] + "\n",
    ],
)
def test_tampering_is_detected(tamper) -> None:
    text = sign_checkpoint(CP, KEY)
    bad = tamper(text)
    assert bad != text
    with pytest.raises(CheckpointError):
        open_checkpoint(bad, [KEY.verifier()])


def test_signature_bit_flips_and_non_canonical_base64_fail() -> None:
    text = sign_checkpoint(CP, KEY)
    body, line = text.split("\n\n")
    prefix, b64 = line[:-1].rsplit(" ", 1)
    raw = base64.b64decode(b64)
    for i in range(len(raw) * 8):
        flipped = bytearray(raw)
        flipped[i // 8] ^= 1 << (i % 8)
        bad = f"{body}\n\n{prefix} {base64.b64encode(bytes(flipped)).decode()}\n"
        with pytest.raises(CheckpointError):
            open_checkpoint(bad, [KEY.verifier()])
    # 68 bytes -> the last base64 digit carries 2 unused bits; a non-zero value must not pass.
    last = b64[-2]
    alias = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = alias[alias.index(last) | 1]
    assert base64.b64decode(b64[:-2] + twin + "=") == raw
    with pytest.raises(CheckpointError, match="canonical"):
        open_checkpoint(f"{body}\n\n{prefix} {b64[:-2]}{twin}=\n", [KEY.verifier()])


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n5\n",
        f"{ORIGIN}\n05\n{base64.b64encode(CP.root).decode()}\n",
        f"{ORIGIN}\n+5\n{base64.b64encode(CP.root).decode()}\n",
        f"{ORIGIN}\n\u0665\n{base64.b64encode(CP.root).decode()}\n",
        f"{ORIGIN}\n{2**64}\n{base64.b64encode(CP.root).decode()}\n",
        f"{ORIGIN}\n5\n{base64.b64encode(CP.root[:31]).decode()}\n",
        f"{ORIGIN}\n5\n{base64.b64encode(CP.root).decode().rstrip('=')}\n",
        f"{ORIGIN}\n5\n{URLSAFE_ROOT}\n",
        f"{ORIGIN}\n0\n{base64.b64encode(CP.root).decode()}\n",
    ],
)
def test_validly_signed_but_malformed_bodies_are_rejected(body: str) -> None:
    with pytest.raises(CheckpointError):
        open_checkpoint(sign_note(body, [KEY]), [KEY.verifier()])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", 1, CP.root), "empty"),
        (("a\nb", 1, CP.root), "control"),
        (("a\ud800", 1, CP.root), "surrogate"),
        ((ORIGIN, -1, CP.root), "tree size"),
        ((ORIGIN, 2**64, CP.root), "tree size"),
        ((ORIGIN, True, CP.root), "tree size"),
        ((ORIGIN, 1, CP.root[:31]), "32 bytes"),
        ((ORIGIN, 1, CP.root.hex()), "32 bytes"),
        ((ORIGIN, 0, CP.root), "empty-tree root"),
        ((ORIGIN, 1, CP.root, ("",)), "must not be empty"),
        ((ORIGIN, 1, CP.root, ["x"]), "tuple"),
    ],
)
def test_checkpoint_fields_are_validated(args: tuple, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        Checkpoint(*args)


def test_signer_contract_is_enforced() -> None:
    class Broken:
        name = "broken"
        public_key_bytes = KEY.public_key_bytes

        def sign(self, message: bytes) -> bytes:
            return b"not a signature"

    with pytest.raises(CheckpointError, match="64-byte"):
        sign_checkpoint(CP, Broken())
    with pytest.raises(CheckpointError, match="key name"):
        Ed25519NoteSigner("bad name", Ed25519PrivateKey.generate())
    with pytest.raises(CheckpointError, match="key name"):
        Ed25519NoteSigner("bad+name", Ed25519PrivateKey.generate())


def test_too_many_signatures_and_non_text_inputs() -> None:
    text = sign_checkpoint(CP, KEY)
    line = text.split("\n\n")[1]
    with pytest.raises(CheckpointError, match="more than 100"):
        open_checkpoint(text + line * 100, [KEY.verifier()])
    for junk in [None, 42, ["a"], b"\xff\xfe", "\ud800" + text]:
        with pytest.raises(CheckpointError):
            open_checkpoint(junk, [KEY.verifier()])  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(junk=st.one_of(st.text(), st.binary()))
def test_garbage_only_ever_raises_checkpoint_error(junk) -> None:
    with pytest.raises(CheckpointError):
        open_checkpoint(junk, [KEY.verifier()])


@settings(max_examples=300, deadline=None)
@given(junk=st.text(min_size=1, max_size=20), data=st.data())
def test_any_edit_of_a_signed_checkpoint_is_rejected(junk: str, data) -> None:
    text = sign_checkpoint(CP, KEY)
    start = data.draw(st.integers(0, len(text)), label="start")
    end = data.draw(st.integers(start, min(len(text), start + 5)), label="end")
    edited = text[:start] + junk + text[end:]
    if edited == text:
        return
    with pytest.raises(CheckpointError):
        open_checkpoint(edited, [KEY.verifier()])
