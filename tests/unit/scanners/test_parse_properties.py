"""parse_scan never raises, whatever a scanner (or an attacker) types."""

import string
from datetime import date

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scanners.model import ERROR_CODES, SCHEMES, ScanResult
from scanners.own import format_ledger_id, ldg1_payload
from scanners.parse import MAX_LENGTH, parse_scan

VALID_CODES = [
    "]d2" + "010950600013435217261231" + "10LOT42A" + "\x1d" + "21BAG0001",
    "https://id.gs1.org/01/09506000134352/10/LOT42A/21/BAG0001?17=261231",
    "3074257BF7194E4000001A85",
    "urn:epc:tag:sgtin-96:3.0614141.812345.6789",
    "=+03000=A99992312345600=<S1234A00&/CHA999923A1B2C3",
    "&>0263652359",
    "G123498654321H",
    ldg1_payload(format_ledger_id("UNT", "ABCD2345"), format_ledger_id("COI", "XYZ98765")),
    "8018061414112345678902",
]
SCAN_ALPHABET = string.printable + "\x1d\x1e\x04\x00\x7f"
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_well_formed(result: ScanResult) -> None:
    assert isinstance(result, ScanResult)
    assert result.scheme in SCHEMES
    for problem in result.errors + result.warnings:
        assert problem.code in ERROR_CODES, problem
        assert problem.message.strip()
    if result.scheme == "unrecognised":
        assert result.errors, "an unrecognised scan must say why"
        assert not result.ok
    if not result.ok:
        assert result.errors
    if result.ok:
        assert result.identifiers
    for ident in result.identifiers:
        assert ident.kind and isinstance(ident.value, str)
    # library failures are classified, never left to the last-resort guard
    assert all(e.code != "INTERNAL" for e in result.errors), result.errors


@FAST
@given(st.text(max_size=300))
@example("")
@example("]")
@example("]d2")
@example("=+99000")
@example("&#0099")
@example("http://")
@example("urn:epc:")
@example("LDG1|||")
def test_random_text_never_raises(text):
    assert_well_formed(parse_scan(text))


@FAST
@given(st.binary(max_size=300))
def test_random_bytes_as_latin1_never_raise(data):
    assert_well_formed(parse_scan(data.decode("latin-1"), gs_substitute="|"))


@FAST
@given(st.text(alphabet=SCAN_ALPHABET, max_size=120))
def test_scanner_alphabet_never_raises(text):
    assert_well_formed(parse_scan(text, gs_substitute="|", today=date(2025, 1, 1)))


@FAST
@given(st.sampled_from(VALID_CODES), st.data())
def test_prefixes_and_mutations_of_valid_codes(code, data):
    cut = data.draw(st.integers(min_value=0, max_value=len(code)))
    assert_well_formed(parse_scan(code[:cut]))
    position = data.draw(st.integers(min_value=0, max_value=len(code) - 1))
    char = data.draw(st.characters(codec="latin-1"))
    assert_well_formed(parse_scan(code[:position] + char + code[position + 1 :]))


@given(st.sampled_from(VALID_CODES))
def test_valid_codes_are_ok(code):
    result = parse_scan(code, today=date(2025, 1, 1))
    assert result.ok, (code, result.errors)


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=MAX_LENGTH + 1, max_value=MAX_LENGTH * 50), st.sampled_from("0A=|"))
def test_huge_input_refused_as_too_long(length, char):
    result = parse_scan(char * length)
    assert result.errors[0].code == "TOO_LONG"
    assert len(result.raw) <= MAX_LENGTH


@FAST
@given(st.text(alphabet=st.characters(max_codepoint=31), min_size=1, max_size=40))
def test_control_characters(text):
    result = parse_scan("COI-" + text)
    assert_well_formed(result)
    assert not result.ok


def test_not_text_never_raises():
    for value in (None, b"COI-1234", 42, ["x"], object()):
        result = parse_scan(value)  # type: ignore[arg-type]
        assert result.errors[0].code == "NOT_TEXT"


def test_max_length_input_is_still_read():
    assert_well_formed(parse_scan("0" * MAX_LENGTH))
