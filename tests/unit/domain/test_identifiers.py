from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.iso7064 import mod_37_2

from ledger.domain.identifiers import (
    ALPHABET,
    is_pseudonym,
    issue_coi,
    issue_unit_label,
    patient_pseudonym,
    validate_coi,
    validate_label_identifiers,
    validate_unit_label,
)
from ledger.errors import InvalidEvent
from scanners.own import format_ledger_id, parse_ledger_id

payloads = st.text(alphabet=ALPHABET, min_size=8, max_size=8)


class FixedChoices:
    def __init__(self, chars: str) -> None:
        self.chars = iter(chars)

    def choice(self, seq: str) -> str:
        return next(self.chars)


@given(payloads)
def test_issued_ids_validate_and_agree_with_the_scanner_package(payload: str) -> None:
    coi = issue_coi(FixedChoices(payload))
    label = issue_unit_label(FixedChoices(payload))
    assert coi == format_ledger_id("COI", payload)
    assert label == format_ledger_id("UNT", payload)
    assert coi[-1] == mod_37_2.calc_check_digit("COI" + payload)
    assert validate_coi(coi.lower()) == coi and validate_unit_label(f" {label} ") == label
    assert parse_ledger_id(coi)[0] is not None


def test_default_source_is_random_and_well_formed() -> None:
    ids = {issue_coi() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 15 and "I" not in i[4:13] and "O" not in i[4:13] for i in ids)


def test_default_source_draws_every_character_at_every_position() -> None:
    """The payload is one draw below 34**8 written in base 34: every position must range over the
    whole alphabet (3,000 ids miss a given character at a given place with odds ~1e-43)."""
    payloads = [coi[4:8] + coi[9:13] for coi in (issue_coi() for _ in range(3000))]
    for position in range(8):
        assert {p[position] for p in payloads} == set(ALPHABET)
    assert all(validate_coi(f"COI-{p[:4]}-{p[4:]}-{mod_37_2.calc_check_digit('COI' + p)}") for p in payloads)


@pytest.mark.parametrize("bad", [
    "COI-ABCD-2345", "COI-ABCD-2345-KK", "COI-ABCI-2345-K", "COI-ABCO-2345-K", "XYZ-ABCD-2345-K",
    "", "COI ABCD 2345 K", 42,
])
def test_malformed_coi_is_invalid(bad: object) -> None:
    with pytest.raises(InvalidEvent) as err:
        validate_coi(bad)  # type: ignore[arg-type]
    assert err.value.code == "INVALID_COI"


@given(payloads, st.sampled_from(ALPHABET + "*"))
def test_a_wrong_check_character_is_refused(payload: str, check: str) -> None:
    good = format_ledger_id("UNT", payload)
    candidate = good[:-1] + check
    if check == good[-1]:
        assert validate_unit_label(candidate) == good
    else:
        with pytest.raises(InvalidEvent) as err:
            validate_unit_label(candidate)
        assert err.value.code == "INVALID_LABEL"


def test_label_and_coi_are_not_interchangeable() -> None:
    coi = issue_coi(random.Random(1))
    with pytest.raises(InvalidEvent) as err:
        validate_unit_label(coi)
    assert err.value.code == "INVALID_LABEL"


def test_patient_pseudonym_is_keyed_and_stable() -> None:
    secret = b"s" * 32
    ref = patient_pseudonym(secret, "MRN-1")
    assert ref == patient_pseudonym(secret, "  MRN-1 ") and is_pseudonym(ref)
    assert ref != patient_pseudonym(b"t" * 32, "MRN-1")
    assert "MRN-1" not in ref
    with pytest.raises(ValueError):
        patient_pseudonym(b"short", "MRN-1")
    with pytest.raises(InvalidEvent):
        patient_pseudonym(secret, "   ")
    assert not is_pseudonym("MRN-1") and not is_pseudonym(ref.upper())


# Label identifiers: each one accepted must print on the label and scan back to the value stored.
@pytest.mark.parametrize(("kind", "given", "stored", "scanned"), [
    # scanned: structure 001 with its flags, or keyboard entry with K (ISBT 128 ST-001 2.4.1, Table 30)
    ("din", "=W123426654321", "W123426654321", "=W12342665432100"),
    ("din", "w123426654321", "W123426654321", "W123426654321C"),
    ("isbt_din", "A999917123456", "A999917123456", "=A99991712345600"),
    ("din", "=W1234266543210R", "W123426654321", "=W1234266543210R"),
    ("gtin", "9506000134352", "09506000134352", "09506000134352"),
    ("gtin", "(01)09506000134352", "09506000134352", "(01)09506000134352"),
    ("sscc", "106141411234567897", "106141411234567897", "(00)106141411234567897"),
    ("gln", "0614141000005", "0614141000005", "(414)0614141000005"),
    ("epc", "urn:epc:id:sgtin:0614141.812345.6789", "urn:epc:id:sgtin:0614141.812345.6789",
     "urn:epc:id:sgtin:0614141.812345.6789"),
])
def test_an_accepted_label_identifier_prints_and_scans_back(kind, given, stored, scanned) -> None:
    from scanners.labels import LabelData, render_label_png
    from scanners.parse import parse_scan

    assert validate_label_identifiers({kind: given}) == {kind: stored}
    if kind in ("din", "isbt_din"):
        render_label_png(LabelData(unit_label_id=issue_unit_label(random.Random(2)),
                                   coi_id=issue_coi(random.Random(3)), unit_kind="cryobag", isbt_din=stored))
    values = {i.value for i in parse_scan(scanned).identifiers}
    assert stored in values


@pytest.mark.parametrize(("kind", "bad"), [
    ("din", "=W12342665432"),          # 12 characters
    ("din", "W123426654321X"),         # wrong keyboard check character
    ("din", "W1234266543210R"),        # flags without the = data identifier
    ("din", "O123426654321"),          # O is not a facility character
    ("gtin", "9506000134353"),         # wrong check digit
    ("gtin", "ABC"),
    ("sscc", "106141411234567898"),
    ("epc", "not a uri"),
    ("epc", "urn:epc:id:sgtin:0614 141"),
    ("gs1", "01 09506000134352"),
    ("gs1", "(01)09506000134353(21)1"),
    ("label", "UNT-ABCD-2345-K"),      # the ledger's own label is the unit's label field
    ("mes_ref", "batch 7"),            # a kind no label prints and no scan finds
])
def test_a_label_identifier_no_later_step_could_use_is_refused(kind: str, bad: str) -> None:
    with pytest.raises(InvalidEvent) as err:
        validate_label_identifiers({kind: bad})
    assert err.value.code == "INVALID_IDENTIFIER"


def test_a_gs1_element_string_is_kept_as_printed() -> None:
    hri = "(01)09506000134352(17)270101(21)SN42"
    assert validate_label_identifiers({"gs1": hri}) == {"gs1": hri}
