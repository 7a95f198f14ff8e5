"""Check digit helpers against the STANDARDS.md vectors."""

import pytest

from scanners.checks import (
    gs1_mod10_check_digit,
    is_valid_gs1_mod10,
    is_valid_mod37_2,
    mod37_2_check_char,
    mod37_2_check_value,
)


@pytest.mark.parametrize(("din", "check"), [("G123498654321", "H"), ("A999917123456", "9")])
def test_din_keyboard_check_character(din, check):
    assert mod37_2_check_char(din) == check
    assert is_valid_mod37_2(din, check)
    assert not is_valid_mod37_2(din, "0" if check != "0" else "1")


@pytest.mark.parametrize(
    "number", ["0614141123452", "061414112345678902", "106141411234567897", "09506000134352"]
)
def test_gs1_mod10_valid_keys(number):
    assert is_valid_gs1_mod10(number)
    assert gs1_mod10_check_digit(number[:-1]) == number[-1]


@pytest.mark.parametrize(
    "number", ["0614141123453", "061414112345678903", "106141411234567898", "16141411234567897"]
)
def test_gs1_mod10_changed_digit_refused(number):
    assert not is_valid_gs1_mod10(number)


@pytest.mark.parametrize("bad", ["", "1", "12a4", "١٢٣٤"])
def test_gs1_mod10_never_raises_on_junk(bad):
    assert not is_valid_gs1_mod10(bad)


def test_mod37_2_rejects_characters_outside_alphabet():
    with pytest.raises(ValueError):
        mod37_2_check_char("abc")
    assert not is_valid_mod37_2("", "0")
    assert not is_valid_mod37_2("a-b", "0")


def test_mod37_2_check_value_range():
    assert mod37_2_check_value("G123498654321") == 17  # "H"
