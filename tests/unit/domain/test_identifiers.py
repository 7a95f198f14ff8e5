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
