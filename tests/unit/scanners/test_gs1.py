"""GS1 element strings, Digital Link and keys (STANDARDS.md "Identifiers and barcodes")."""

from datetime import date

import pytest

from scanners.gs1 import as_hri
from scanners.parse import parse_scan

GS = "\x1d"
TODAY = date(2025, 6, 1)
ELEMENT_STRING = "]d2" + "010950600013435217261231" + "10LOT42A" + GS + "21BAG0001"


def test_datamatrix_element_string_with_gs():
    result = parse_scan(ELEMENT_STRING, today=TODAY)
    assert result.ok, result.errors
    assert result.scheme == "gs1"
    assert result.symbology == "]d2"
    assert as_hri(result.identifiers) == "(01)09506000134352(17)261231(10)LOT42A(21)BAG0001"
    assert result.values("gtin") == ("09506000134352",)
    assert result.values("lot") == ("LOT42A",)
    assert result.values("serial") == ("BAG0001",)
    assert result.first("expiry").date == date(2026, 12, 31)
    assert not result.expired


def test_digital_link_gives_same_keys():
    uri = "https://id.gs1.org/01/09506000134352/10/LOT42A/21/BAG0001?17=261231"
    result = parse_scan(uri, today=TODAY)
    assert result.ok, result.errors
    assert result.scheme == "gs1_digital_link"
    assert result.values("gtin") == ("09506000134352",)
    assert result.values("lot") == ("LOT42A",)
    assert result.values("serial") == ("BAG0001",)
    assert result.first("expiry").date == date(2026, 12, 31)


def test_dropped_gs_with_configured_substitute():
    scanned = ELEMENT_STRING.replace(GS, "|")
    result = parse_scan(scanned, gs_substitute="|", today=TODAY)
    assert result.ok, result.errors
    assert result.values("lot") == ("LOT42A",)
    assert result.values("serial") == ("BAG0001",)


def test_dropped_gs_without_substitute_is_not_silently_split():
    result = parse_scan(ELEMENT_STRING.replace(GS, "|"), today=TODAY)
    assert result.values("serial") == ()
    assert "LOT42A|21BAG0001" in result.values("lot") or not result.ok


def test_expired_product_is_flagged():
    result = parse_scan("]d2" + "0109506000134352172301311" + "0LOT1", today=TODAY)
    assert result.ok
    assert result.expired
    assert any(w.code == "EXPIRED" for w in result.warnings)


def test_expiry_date_time_7003_compared_with_now():
    from datetime import UTC, datetime

    scanned = "]C1" + "01095060001343527003" + "2506011200"
    before = parse_scan(scanned, now=datetime(2025, 6, 1, 11, 0, tzinfo=UTC))
    after = parse_scan(scanned, now=datetime(2025, 6, 1, 13, 0, tzinfo=UTC))
    assert before.ok and not before.expired
    assert after.ok and after.expired


@pytest.mark.parametrize(
    ("scanned", "kind", "value"),
    [
        ("4140614141123452", "gln", "0614141123452"),
        ("4160614141123452", "gln", "0614141123452"),
        ("8018061414112345678902", "gsrn", "061414112345678902"),
        ("8017061414112345678902", "gsrn", "061414112345678902"),
        ("00106141411234567897", "sscc", "106141411234567897"),
        ("106141411234567897", "sscc", "106141411234567897"),
        ("09506000134352", "gtin", "09506000134352"),
    ],
)
def test_valid_keys(scanned, kind, value):
    result = parse_scan(scanned)
    assert result.ok, result.errors
    assert result.values(kind) == (value,)


@pytest.mark.parametrize(
    "scanned",
    [
        "4140614141123453",
        "4160614141123462",
        "8018061414112345678903",
        "8017061414112345678912",
        "00106141411234567898",
        "]d2" + "010950600013435317261231",
        "https://id.gs1.org/01/09506000134353",
    ],
)
def test_changed_digit_refused(scanned):
    result = parse_scan(scanned)
    assert not result.ok
    assert any(e.code == "CHECK_DIGIT" for e in result.errors), result.errors


def test_invalid_date_is_an_error():
    feb_30 = parse_scan("]d2" + "010950600013435217260230")
    assert not feb_30.ok
    assert feb_30.errors[0].code == "BAD_DATE"
    month_13 = parse_scan("]d2" + "010950600013435217261301")
    assert not month_13.ok
    assert month_13.errors[0].code in {"BAD_DATE", "BAD_FORMAT"}


def test_hri_input():
    result = parse_scan("(01)09506000134352(10)LOT42A")
    assert result.ok
    assert result.values("lot") == ("LOT42A",)


def test_bad_gs_substitute_is_a_programming_error():
    with pytest.raises(ValueError):
        parse_scan("x", gs_substitute="ab")
    with pytest.raises(ValueError):
        parse_scan("x", gs_substitute="1")
