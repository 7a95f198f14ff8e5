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


# --- properties: what is encoded is what is read, or the scan is refused -------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from scanners.checks import gs1_mod10_check_digit  # noqa: E402
from scanners.gs1 import PREDEFINED_LENGTH  # noqa: E402

CSET82_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-./_"
_text = st.text(alphabet=CSET82_SAFE, min_size=1, max_size=20)
_digits = st.text(alphabet="0123456789", min_size=12, max_size=12)
_date = st.dates(min_value=date(2001, 1, 1), max_value=date(2049, 12, 31)).map(lambda d: d.strftime("%y%m%d"))
_keyed = {
    "01": _digits.map(lambda d: "0" + d + gs1_mod10_check_digit("0" + d)),
    "10": _text,
    "17": _date,
    "21": _text,
    "7007": st.tuples(_date, st.sampled_from(["", "491231"])).map("".join),
    "8003": st.tuples(_digits, st.text(alphabet=CSET82_SAFE, max_size=16)).map(
        lambda t: "0" + t[0] + gs1_mod10_check_digit(t[0]) + t[1]),
}
_elements = st.lists(st.sampled_from(sorted(_keyed)), min_size=1, max_size=5, unique=True).flatmap(
    lambda ais: st.tuples(*(st.tuples(st.just(ai), _keyed[ai]) for ai in ais)))


def _element_string(elements) -> str:
    out = ""
    for n, (ai, value) in enumerate(elements):
        out += ai + value + (GS if ai[:2] not in PREDEFINED_LENGTH and n < len(elements) - 1 else "")
    return out


@settings(max_examples=200, deadline=None)
@given(_elements, st.sampled_from(["]C1", "]d2", "]Q3", "]e0", "]J1"]))
def test_encoded_elements_are_read_back_exactly(elements, symbology):
    result = parse_scan(symbology + _element_string(elements), today=TODAY)
    assert result.ok, result.errors
    assert as_hri(result.identifiers) == "".join(f"({ai}){value}" for ai, value in elements)


@settings(max_examples=200, deadline=None)
@given(_elements, st.data())
def test_a_second_different_value_for_an_ai_is_refused(elements, data):
    ai, value = data.draw(st.sampled_from(elements))
    other = data.draw(_keyed[ai].filter(lambda v: v != value))
    result = parse_scan("]C1" + _element_string([*elements, (ai, other)]), today=TODAY)
    assert not result.ok and result.identifiers == ()
    assert result.errors[0].code == "GS1_AI_REPEATED"


@settings(max_examples=200, deadline=None)
@given(_elements, st.data())
def test_a_dropped_separator_is_never_read_as_other_data(elements, data):
    scan = "]C1" + _element_string(elements)
    gaps = [i for i, c in enumerate(scan) if c == GS]
    if not gaps:
        return
    cut = data.draw(st.sampled_from(gaps))
    result = parse_scan(scan[:cut] + scan[cut + 1:], today=TODAY)
    if result.ok:  # only when the joined text is itself a legal value of the first AI (e.g. lot "A" + "21B")
        assert len(result.identifiers) < len(elements)


def test_7007_date_range_is_two_dates_not_biips_datetime():
    """biip 5.2 reads (7007)211225211231 as the datetime 2021-12-25 21:12:31 and refuses
    (7007)010101491231 (hour 49); the syntax dictionary says N6,yymmdd [N6,yymmdd]."""
    from biip.gs1_element_strings import GS1ElementString

    assert GS1ElementString.parse("7007211225211231").datetime is not None  # the library behaviour wrapped
    read = parse_scan("]C1" + "7007" + "211225211231")
    assert read.ok and read.identifiers[0].date == date(2021, 12, 25) and read.identifiers[0].datetime is None
    assert parse_scan("]C1" + "7007" + "010101491231").ok
    refused = parse_scan("]C1" + "7007" + "211225211331")
    assert not refused.ok and refused.errors[0].code == "BAD_DATE" and refused.errors[0].position == 7


@settings(max_examples=200, deadline=None)
@given(_elements, st.sampled_from(["https://id.gs1.org", "https://example.com/some/stem", "HTTP://a"]), _keyed["01"])
def test_digital_link_of_encoded_elements_is_read_back_exactly(elements, stem, some_gtin):
    from urllib.parse import quote

    chosen = dict(elements)
    gtin = chosen.get("01", some_gtin)
    path = [("01", gtin)] + [(ai, chosen[ai]) for ai in ("10", "21") if ai in chosen]
    query = [(ai, chosen[ai]) for ai in ("17", "7007", "8003") if ai in chosen]
    uri = stem + "".join(f"/{ai}/{quote(v, safe='')}" for ai, v in path)
    uri += ("?" + "&".join(f"{ai}={quote(v, safe='')}" for ai, v in query)) if query else ""
    result = parse_scan(uri, today=TODAY)
    assert result.ok, (uri, result.errors)
    assert as_hri(result.identifiers) == "".join(f"({ai}){v}" for ai, v in path + query)


def test_positions_count_from_the_raw_scan():
    """Leading blanks and the symbology identifier are counted: the position points into raw."""
    raw = "  ]d2" + "0109506000134352" + "10LOT1" + GS + "10LOT2"
    error = parse_scan(raw).errors[0]
    assert error.code == "GS1_AI_REPEATED"
    assert raw[error.position:].startswith("LOT2")
    uri = " https://id.gs1.org/01/09506000134352?17="
    error = parse_scan(uri).errors[0]
    assert (error.code, uri[error.position - 3:error.position]) == ("EMPTY_VALUE", "17=")


# --- biip 5.2 behaviours the ledger wraps (if biip changes, these say so) ------------------------

def _biip_message(text):
    from biip.gs1_messages import GS1Message

    return [(e.ai.ai, e.value) for e in GS1Message.parse(text).element_strings]


def _biip_hri(text):
    from biip.gs1_messages import GS1Message

    return [(e.ai.ai, e.value) for e in GS1Message.parse_hri(text).element_strings]


def _biip_dl(text):
    from biip.gs1_digital_link_uris import GS1DigitalLinkURI

    return [(e.ai.ai, e.value) for e in GS1DigitalLinkURI.parse(text).element_strings]


BIIP_LENIENCIES = [
    # (what biip does, the scan as the ledger gets it, biip's reading, the ledger's refusal code)
    ("splits a variable-length value where its pattern stops: (7007) then a serial, no FNC1",
     lambda: _biip_message("700721122521ABC"), [("7007", "211225"), ("21", "ABC")], "]C1700721122521ABC", "BAD_FORMAT"),
    ("drops an empty HRI value", lambda: _biip_hri("(01)09506000134352(10)(21)ABC"),
     [("01", "09506000134352"), ("21", "ABC")], "(01)09506000134352(10)(21)ABC", "EMPTY_VALUE"),
    ("pads a 3-digit GTIN in a Digital Link", lambda: _biip_dl("https://id.gs1.org/01/123"),
     [("01", "00000000000123")], "https://id.gs1.org/01/123", "BAD_LENGTH"),
    ("ignores an empty query parameter", lambda: _biip_dl("https://id.gs1.org/01/09506000134352?17="),
     [("01", "09506000134352")], "https://id.gs1.org/01/09506000134352?17=", "EMPTY_VALUE"),
    ("keeps the last of repeated query values",
     lambda: _biip_dl("https://id.gs1.org/01/09506000134352?17=261231&17=270101"),
     [("01", "09506000134352"), ("17", "270101")], "https://id.gs1.org/01/09506000134352?17=261231&17=270101",
     "GS1_AI_REPEATED"),
    ("keeps a path lot and a different query lot", lambda: _biip_dl("https://id.gs1.org/01/09506000134352/10/A?10=B"),
     [("01", "09506000134352"), ("10", "A"), ("10", "B")], "https://id.gs1.org/01/09506000134352/10/A?10=B",
     "GS1_AI_REPEATED"),
    ("does not check the GRAI (8003) check digit", lambda: _biip_message("800302112345678901ABC"),
     [("8003", "02112345678901ABC")], "]C1800302112345678901ABC", "CHECK_DIGIT"),
]


@pytest.mark.parametrize(("behaviour", "biip_reads", "biip_reading", "scan", "code"), BIIP_LENIENCIES,
                         ids=[row[0] for row in BIIP_LENIENCIES])
def test_biip_leniency_is_refused_here(behaviour, biip_reads, biip_reading, scan, code):
    assert biip_reads() == biip_reading, f"biip no longer {behaviour}: revisit scanners/gs1*.py"
    result = parse_scan(scan, today=TODAY)
    assert not result.ok and result.identifiers == ()
    assert result.errors[0].code == code


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([8, 12, 13, 14]).flatmap(lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)))
def test_gs1_mod10_agrees_with_python_stdnum(number):
    """The GS1 mod 10 used for every csum AI agrees with python-stdnum's EAN/GTIN rule."""
    from stdnum import ean

    from scanners.checks import is_valid_gs1_mod10

    assert is_valid_gs1_mod10(number) == ean.is_valid(number)
