"""ISBT 128 structures for cellular therapy (STANDARDS.md vectors + synthetic examples)."""

from datetime import UTC, date, datetime

import pytest

from scanners.parse import parse_scan

DIN = "=A99992312345600"
PRODUCT = "=<S1234A00"
EXPIRY = "&>0263652359"
COI = "&/CHA999923A1B2C3"


@pytest.mark.parametrize(("din", "check"), [("G123498654321", "H"), ("A999917123456", "9")])
def test_din_check_character_computed_and_manual_entry_verified(din, check):
    scanned = parse_scan("=" + din + "00")
    assert scanned.ok, scanned.errors
    assert scanned.first("din").check_char == check
    assert scanned.first("din").flags == "00"
    typed = parse_scan(din + check)
    assert typed.ok and typed.values("din") == (din,)
    # "=" is the data identifier of structure 001, whose flags are part of it (ST-001 2.4.1):
    # "=" + DIN + one more character is a truncated scan, not a DIN with its check character.
    assert parse_scan("=" + din + check).errors[0].code == "ISBT_TRUNCATED"


@pytest.mark.parametrize("typed", ["G123498654321K", "A9999171234560"])
def test_din_wrong_check_character_refused(typed):
    result = parse_scan(typed)
    assert not result.ok
    assert result.errors[0].code == "CHECK_DIGIT"


def test_din_parts_and_symbology():
    result = parse_scan("]C0" + DIN)
    din = result.first("din")
    assert result.scheme == "isbt128" and result.symbology == "]C0"
    assert (din.value, din.facility, din.year, din.sequence) == (
        "A999923123456",
        "A9999",
        "23",
        "123456",
    )


def test_din_type3_flags_verified():
    # type 3 flags: mod 37-2 check value + 60 ("H" = 17 -> 77)
    assert parse_scan("=G12349865432177").ok
    result = parse_scan("=G12349865432178")
    assert not result.ok and result.errors[0].code == "CHECK_DIGIT"


def test_product_code():
    result = parse_scan(PRODUCT)
    code = result.first("product_code")
    assert result.ok
    assert code.product_description_code == "S1234"
    assert code.cellular_therapy
    assert (code.collection_type, code.division) == ("A", "00")


def test_product_code_bad_structure():
    assert not parse_scan("=<1234A00X").ok


def test_expiry_005_is_aware_utc_and_flags_expired():
    result = parse_scan(EXPIRY, today=date(2026, 6, 1))
    expiry = result.first("isbt_expiry")
    assert expiry.expires_at == datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert not result.expired
    assert parse_scan(EXPIRY, today=date(2027, 1, 1)).expired
    assert parse_scan("&>0250011200", now=datetime(2025, 1, 1, 12, 1, tzinfo=UTC)).expired
    assert not parse_scan("&>0250011200", now=datetime(2025, 1, 1, 11, 59, tzinfo=UTC)).expired


@pytest.mark.parametrize("bad", ["&>0253672359", "&>0250002359", "&>0250012459", "&>02500123"])
def test_expiry_invalid(bad):
    result = parse_scan(bad)
    assert not result.ok
    assert result.errors[0].code in {"BAD_DATE", "ISBT_TRUNCATED"}


def test_expiry_leap_year_day_366():
    result = parse_scan("&>0243662359")
    assert result.first("isbt_expiry").expires_at.date() == date(2024, 12, 31)


def test_chain_of_identity_040():
    result = parse_scan(COI)
    coi = result.first("coi_isbt")
    assert result.ok
    assert (coi.value, coi.facility, coi.year, coi.sequence) == (
        "A999923A1B2C3",
        "A9999",
        "23",
        "A1B2C3",
    )


def test_compound_message_023():
    result = parse_scan("]d1=+03000" + DIN + PRODUCT + COI)
    assert result.ok, result.errors
    assert [i.kind for i in result.identifiers] == ["din", "product_code", "coi_isbt"]


def test_compound_message_count_mismatch():
    result = parse_scan("=+04000" + DIN + PRODUCT + COI)
    assert not result.ok
    assert result.errors[0].code == "ISBT_COMPOUND_COUNT"


def test_compound_message_with_expiry_flags_expired():
    result = parse_scan("=+04000" + DIN + PRODUCT + EXPIRY + COI, today=date(2030, 1, 1))
    assert result.ok and result.expired


def test_compound_with_defined_sequence_warns_not_checked():
    result = parse_scan("=+02001" + DIN + PRODUCT)
    assert result.ok
    assert [w.code for w in result.warnings] == ["NOT_CHECKED"]


def test_patient_data_dropped_and_masked():
    scanned = "=+03000" + DIN + "=#00" + "19800101" + COI
    result = parse_scan(scanned)
    assert result.ok
    assert [w.code for w in result.warnings] == ["PATIENT_DATA"]
    assert "19800101" not in result.raw
    assert "19800101" not in repr(result)


def test_truncated_and_unknown_structures():
    assert parse_scan("=A999923123").errors[0].code == "ISBT_TRUNCATED"
    assert parse_scan("&!xyz").scheme == "unrecognised"
    assert parse_scan("=+02000" + DIN + "=<S12").errors[0].code == "ISBT_TRUNCATED"


# ST-001 v6.2.2 Table 2 [RT003]: data content length of each fixed-length structure
TABLE_2_LENGTHS = {
    "002": 4, "003": 8, "004": 6, "005": 10, "006": 6, "007": 10, "008": 6, "009": 10, "010": 5, "011": 18,
    "012": 18, "013": 18, "014": 18, "015": 18, "016": 18, "017": 10, "018": 10, "019": 21, "020": 11, "021": 10,
    "022": 10, "023": 5, "024": 10, "026": 6, "027": 18, "028": 16, "031": 16, "032": 6, "033": 11, "034": 16,
    "035": 18, "036": 18, "037": 19, "038": 40, "039": 19, "040": 15,
}


def test_structure_table_matches_st001_table_2():
    from scanners.isbt128_structures import DIN_STRUCTURE, STRUCTURES

    lengths = {s.number: s.length for s in STRUCTURES.values() if s.number not in ("025", "029", "030")}
    assert lengths == TABLE_2_LENGTHS
    assert DIN_STRUCTURE.length == 15


def test_sec_fields():
    sec = parse_scan("&,4PL001499Z549917123456A00S14160Ab20171231").first("isbt_sec")
    assert (sec.country, sec.te_code, sec.donation_number) == ("PL", "001499", "Z549917123456")
    assert (sec.coding_system, sec.product_code, sec.split_number, sec.expiry) == (
        "A", "00S1416", "0Ab", date(2017, 12, 31))
    assert parse_scan("&,4PL001499Z549917123456E000005300100000000").first("isbt_sec").expiry is None


def test_sec_with_eutc_product_code_is_not_compared_with_the_isbt_product_code():
    # ST-012 3.3: coding system E carries an EUTC, not the ISBT 128 PDC
    result = parse_scan("=+02000=<T9999001&,4PL001499Z549917123456E000005300100000000")
    assert result.ok, result.errors


def test_one_bad_structure_refuses_the_whole_message():
    result = parse_scan("=+03000" + DIN + PRODUCT + "=,00001a")
    assert not result.ok and result.identifiers == ()
    assert (result.errors[0].code, result.errors[0].position) == ("BAD_FORMAT", 7 + 16 + 10 + 7)


def test_donor_identifiers_dropped_and_masked():
    donor = "=;A99991234567890123456"
    result = parse_scan("=+02000" + DIN + donor)
    assert result.ok and result.values("din") == ("A999923123456",)
    assert [w.code for w in result.warnings] == ["DONOR_DATA"]
    assert "1234567890123456" not in result.raw


def test_collection_production_month_and_flexible_dates_are_validated():
    assert parse_scan("&*0170011200").ok
    assert parse_scan("&}0170012460").errors[0].code == "BAD_DATE"
    assert parse_scan("=]202612").ok
    assert parse_scan("=]202613").errors[0].code == "BAD_DATE"
    assert parse_scan("=(1001202602281200").ok
    assert parse_scan("=(1001202602301200").errors[0].code == "BAD_DATE"
