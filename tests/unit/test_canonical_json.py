"""``canonical`` is RFC 8785: byte-for-byte what the ``rfc8785`` reference writes, or refused.

The C-encoder fast path in ``ledger.envelope`` must never change a hash, so it is held against
the reference on generated JSON values, including the cases where the two encoders differ
(floats, keys outside the BMP, lone surrogates, integers beyond 2**53).
"""

from __future__ import annotations

import json
import re

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.envelope import _may_hold_a_long_integer, canonical, parse
from ledger.errors import InvalidEvent

# Text that stresses escaping and key order: controls, quotes, backslashes, DEL, U+2028,
# characters just below and above the surrogate range, and astral characters.
tricky_text = st.text(
    st.one_of(
        st.characters(min_codepoint=0, max_codepoint=0x7F),
        st.sampled_from(["\u2028", "\u00e9", "\ue000", "\uffff", "\U0001f600", "\U00010000", "\ud800"]),
        st.characters(),
    ),
    max_size=12,
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) - 2, max_value=2**53 + 2),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=1e-5, max_value=1e17),
    st.sampled_from([1e-4, 0.00011, 1e16 - 2, 9007199254740993.0, 0.1, -0.5, 123.456, 5e-324]),
    tricky_text,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(tricky_text, inner, max_size=5)),
    max_leaves=25,
)


def reference(value) -> bytes | None:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError, TypeError):
        return None


def ours(value) -> bytes | None:
    try:
        return canonical(value)
    except InvalidEvent:
        return None


@settings(max_examples=2000, deadline=None)
@given(values)
def test_canonical_agrees_with_the_reference_implementation(value):
    assert ours(value) == reference(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # JCS orders keys by UTF-16 code units: U+E000 sorts after the surrogate pair of U+1F600.
        ({"\ue000": 1, "\U0001f600": 2}, '{"\U0001f600":2,"\ue000":1}'.encode()),
        ({"a": 1.0, "b": 1e21, "c": 1e-7}, b'{"a":1,"b":1e+21,"c":1e-7}'),
        ({"t": -150.25, "u": 0.0001, "v": 1e-05, "w": 1e16 + 2.0},
         b'{"t":-150.25,"u":0.0001,"v":0.00001,"w":10000000000000002}'),
        ({"s": "\u0000\u001f\u007f\u2028\"\\"}, '{"s":"\\u0000\\u001f\u007f\u2028\\"\\\\"}'.encode()),
        ([True, False, None, 2**53 - 1], b"[true,false,null,9007199254740991]"),
    ],
)
def test_known_outputs(value, expected):
    assert canonical(value) == expected


def test_nesting_deeper_than_the_fast_encoder_takes_is_written_by_the_reference():
    deep: object = "leaf"
    for level in range(300):  # orjson stops at 255 levels
        deep = [deep] if level % 2 else {"k": deep}
    assert canonical(deep) == reference(deep)


@pytest.mark.parametrize("value", [{"n": 2**53}, {"s": "\ud800"}, {1: "int key"}, {"f": float("nan")}])
def test_refused_like_the_reference(value):
    assert reference(value) is None
    with pytest.raises(InvalidEvent):
        canonical(value)


@settings(max_examples=300, deadline=None)
@given(values)
def test_parse_reads_what_json_reads(value):
    """The stored records are read with orjson where it can: never to a different meaning.
    ``json.dumps`` (not JCS) also writes integers beyond 64 bits (orjson would read a float) and
    lone surrogates (orjson refuses them)."""
    data = json.dumps(value)
    expected = json.loads(data)
    for form in (data.encode("utf-8", "surrogatepass"), memoryview(data.encode("utf-8", "surrogatepass"))):
        assert parse(form) == expected
        assert repr(parse(form)) == repr(expected)  # 1 and 1.0, -0.0 and 0.0 stay apart


def test_parse_refuses_what_json_refuses():
    for bad in (b"", b"{", b"[1,]", b"\xff"):
        with pytest.raises(ValueError):
            parse(bad)


def test_parse_keeps_integers_beyond_64_bits_exact():
    for number in (2**64, -(2**63) - 1, 10**30, -(10**20)):
        assert parse(f'{{"n": {number}}}'.encode()) == {"n": number}
        assert type(parse(str(number).encode())) is int
    assert parse(b'{"sscc": "1234567890123456789012"}') == {"sscc": "1234567890123456789012"}
    for text in (b"[12345678901234567890123]", b'{"a":[1,\n 12345678901234567890123]}', b"12345678901234567890123",
                 b'{"n":-12345678901234567890123}', b'{"s":"x12345678901234567890123", "n": 1e400}'):
        assert repr(parse(text)) == repr(json.loads(text))


def test_only_digit_runs_a_number_could_start_go_to_the_slower_reader():
    """A chain's first ``prev`` (64 zeros, ~15 % of records) is read by orjson; a long integer is not."""
    assert not _may_hold_a_long_integer(b'{"prev":"' + b"0" * 64 + b'","n":123456789012345678}')
    assert not _may_hold_a_long_integer(memoryview(b'{"sscc":"1234567890123456789012"}'))
    for risky in (b'{"n":12345678901234567890}', b"[ 12345678901234567890]", b"12345678901234567890",
                  b'{"n":-12345678901234567890}', b'{"s":"id 12345678901234567890"}'):
        assert _may_hold_a_long_integer(risky), risky


_LONG_RUN = re.compile(rb'(?:\A|[^"0-9])[0-9]{19}')  # the definition, as a (slow) regular expression
_pieces = st.one_of(st.integers(1, 70).map(lambda n: b"7" * n), st.sampled_from([b'"', b"x", b":", b"\xc3\xa9", b"-"]))


@settings(max_examples=500, deadline=None)
@given(st.lists(_pieces, max_size=12).map(b"".join))
def test_the_long_integer_search_is_its_definition(data):
    """Runs of digits of every length, after quotes, other bytes or nothing, one after another."""
    assert _may_hold_a_long_integer(data) is (_LONG_RUN.search(data) is not None)
    assert _may_hold_a_long_integer(memoryview(data)) is (_LONG_RUN.search(data) is not None)
