"""The witness file format and the checkpoint checks of ``ledger.verification.verify_log``, without I/O."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import Checkpoint, Ed25519NoteSigner, leaf_hash, sign_checkpoint
from ledger.verification.verify_log import (
    TERMINATOR,
    WitnessError,
    _Check,
    _decode,
    _Findings,
    format_witness,
    parse_witness,
)
from tests.support import fixed_key, ring_of
from tests.unit.test_canonical_json import values

ORIGIN = "coi-ledger.example/log"


def note(size: int, seed: int = 1, origin: str = ORIGIN) -> str:
    key = fixed_key(seed)
    root = leaf_hash(str(size).encode())
    return sign_checkpoint(Checkpoint(origin, size, root), Ed25519NoteSigner(origin, key.private_key))


def test_witness_files_round_trip_and_are_blocks_terminated_by_dashes():
    notes = [note(1), note(5), note(9)]
    text = format_witness(notes)
    assert text.count(f"\n{TERMINATOR}\n") == 3 and text.endswith(f"{TERMINATOR}\n")
    assert parse_witness(text) == notes
    assert parse_witness("\n" + text.replace(f"{TERMINATOR}\n", f"{TERMINATOR}\n\n")) == notes
    assert parse_witness("") == [] and format_witness([]) == ""


def test_an_origin_that_looks_like_a_terminator_is_still_parsed_correctly():
    odd = note(3, origin="----")
    assert parse_witness(format_witness([odd, note(4)])) == [odd, note(4)]


@pytest.mark.parametrize(
    "broken",
    [
        lambda t: t[: -len(TERMINATOR) - 1],  # last note unterminated
        lambda t: t.replace("\n\u2014 ", "\nx ", 1),  # not a signature line
        lambda t: t.replace("\n\n\u2014", "\n\n" + TERMINATOR + "\n\u2014", 1),  # no signature
        lambda t: t.replace("\n\n", "\n", 1),  # no blank line before the signatures
    ],
)
def test_damaged_witness_files_are_refused_with_a_reason(broken):
    with pytest.raises(WitnessError):
        parse_witness(broken(format_witness([note(1), note(2)])))


def test_format_refuses_what_is_not_a_signed_note():
    with pytest.raises(WitnessError):
        format_witness(["origin\n1\n"])


def stored_rows(*rows):
    return [(size, leaf_hash(str(size).encode()).hex(), at, key_id, text) for size, at, key_id, text in rows]


def run_stored(rows, ring):
    c = _Check.__new__(_Check)
    c.ring, c.found = ring, _Findings(100)
    signed = c.stored(rows)
    return signed, [(f.reason, f.detail.split(":")[0]) for f in c.found.done()]


def test_stored_checkpoints_open_only_with_a_published_key_valid_when_issued():
    key, rogue = fixed_key(1), fixed_key(9)
    at = "2026-02-01T00:00:00.000000Z"
    rows = stored_rows(
        (1, at, key.key_id, note(1)),
        (2, at, rogue.key_id, note(2, seed=9)),  # not published
        (3, "2025-01-01T00:00:00.000000Z", key.key_id, note(3)),  # before the key's validity
        (4, at, key.key_id, note(4, seed=9)),  # signed by another key, claims ours
        (5, at, key.key_id, note(6)),  # the row's size and root differ from the note's
    )
    signed, found = run_stored(rows, ring_of(key))
    assert [s.size for s in signed] == [1, 6]
    assert found == [
        ("unknown key", "checkpoint 2"),
        ("key not valid", "checkpoint 3"),
        ("bad checkpoint signature", "checkpoint 4"),
        ("checkpoint mismatch", "checkpoint 5"),
    ]


def test_findings_are_capped_per_reason_with_a_summary():
    found = _Findings(2)
    for i in range(5):
        found.add("missing from log", f"leaf {i}")
    found.add("log truncated", "x")
    lines = [(f.reason, f.detail) for f in found.done()]
    assert lines == [
        ("missing from log", "leaf 0"),
        ("missing from log", "leaf 1"),
        ("log truncated", "x"),
        ("missing from log", "... and 3 more"),
    ]


def read_as_json(state: bytes) -> tuple:
    """What the log pass must take from a row: the reading of ``json`` itself."""
    try:
        record = json.loads(state)
        envelope = record["envelope"]
        return envelope.get("event_id"), envelope.get("stream"), envelope.get("seq"), record["hash"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, None, None, None


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["event_id", "stream", "seq", "data"]), values), values, values)
def test_the_log_pass_reads_a_row_exactly_as_json_does(envelope, stored_hash, other):
    for record in ({"envelope": envelope, "hash": stored_hash}, {"envelope": other, "hash": stored_hash}, other):
        state = json.dumps(record).encode("utf-8", "surrogatepass")
        assert repr(_decode(state)) == repr(read_as_json(state))


def test_the_log_pass_reads_what_orjson_would_misread_as_json_does():
    for state in (b'{"envelope": {"seq": 18446744073709551616, "event_id": "e"}, "hash": "h"}',
                  b'{"envelope": {"seq": 1, "event_id": NaN}, "hash": "h"}',
                  b'{"envelope": {"seq": 1, "event_id": "\\ud800"}, "hash": "h"}',
                  b'{"envelope": {"seq": 1}, "hash": 123456789012345678901234}',
                  b'{"envelope": [1], "hash": "h"}', b'[1]', b'{"envelope": {}}', b"\xff"):
        assert repr(_decode(state)) == repr(read_as_json(state)), state
    assert _decode(b'{"envelope": {"seq": 18446744073709551616}, "hash": "h"}')[2] == 2**64
