"""The ledger's own COI / unit label ids and the LDG1 QR payload."""

import pytest

from scanners.own import PAYLOAD_ALPHABET, format_ledger_id, ldg1_payload, parse_ledger_id
from scanners.parse import parse_scan

COI = format_ledger_id("COI", "XYZ98765")
UNIT = format_ledger_id("UNT", "ABCD2345")


def test_format_is_fixed():
    from stdnum.iso7064 import mod_37_2

    assert "COI-XYZ9-8765-" + mod_37_2.calc_check_digit("COIXYZ98765") == COI
    assert "UNT-ABCD-2345-" + mod_37_2.calc_check_digit("UNTABCD2345") == UNIT
    assert "I" not in PAYLOAD_ALPHABET and "O" not in PAYLOAD_ALPHABET


@pytest.mark.parametrize(
    ("text", "scheme", "kind"), [(COI, "coi", "coi"), (UNIT, "unit_label", "unit_label")]
)
def test_bare_ids_valid_any_case(text, scheme, kind):
    for form in (text, text.lower(), f"  {text}\r\n"):
        result = parse_scan(form)
        assert result.ok, result.errors
        assert result.scheme == scheme
        assert result.values(kind) == (text,)


def test_uri_forms():
    assert parse_scan("coi:" + COI).values("coi") == (COI,)
    assert parse_scan("unit:" + UNIT.lower()).values("unit_label") == (UNIT,)
    assert not parse_scan("coi:" + UNIT).ok


def test_ldg1_payload_round_trip():
    payload = ldg1_payload(UNIT.lower(), COI)
    assert payload == f"LDG1|unit={UNIT}|coi={COI}"
    assert len(payload) == 45
    result = parse_scan("]Q1" + payload)
    assert result.ok
    assert result.scheme == "unit_label"
    assert result.values("unit_label") == (UNIT,)
    assert result.values("coi") == (COI,)
    assert parse_scan(payload.lower()).ok


def _wrong_check(ident: str) -> str:
    other = "0" if ident[-1] != "0" else "1"
    return ident[:-1] + other


@pytest.mark.parametrize(
    "bad",
    [
        _wrong_check(COI),
        _wrong_check(UNIT),
        "coi:" + _wrong_check(COI),
        f"LDG1|unit={_wrong_check(UNIT)}|coi={COI}",
        f"LDG1|unit={UNIT}|coi={_wrong_check(COI)}",
    ],
)
def test_wrong_check_char_refused(bad):
    result = parse_scan(bad)
    assert not result.ok
    assert any(e.code == "CHECK_DIGIT" for e in result.errors)


@pytest.mark.parametrize(
    "bad",
    [
        "COI-ABCI-2345-0",
        "COI-ABC-2345-0",
        "COI-ABCD-2345",
        f"LDG1|coi={COI}|unit={UNIT}",
        f"LDG1|unit={UNIT}",
        f"LDG1|unit={UNIT}|coi={COI}|x=1",
        f"LDG2|unit={UNIT}|coi={COI}",
        f"LDG1|unit={COI}|coi={UNIT}",
    ],
)
def test_malformed_refused(bad):
    result = parse_scan(bad)
    assert not result.ok
    assert result.errors and all(e.code and e.message for e in result.errors)


def test_swapping_a_transposed_payload_is_caught():
    # mod 37-2 detects every transposition of adjacent characters
    payload = "XYZ98765"
    swapped = payload[1] + payload[0] + payload[2:]
    forged = "COI-" + swapped[:4] + "-" + swapped[4:] + "-" + COI[-1]
    assert parse_ledger_id(forged)[0] is None


def test_ldg1_payload_refuses_invalid_ids():
    with pytest.raises(ValueError):
        ldg1_payload(_wrong_check(UNIT), COI)
    with pytest.raises(ValueError):
        format_ledger_id("COI", "ABCDEFGI")
