"""No input makes a parser return identifiers that differ from what the symbol encodes.

Property tests over rendered symbols: the project's own unit labels (``scanners.labels``, PNG)
and ISBT 128 messages drawn as Code 128 / Data Matrix, decoded with zxing-cpp (symbology
identifier prefixed, as a scanner sends it), parsed and compared with what was encoded; then
the same messages cut short, which must never read as a (different) DIN or a partial compound
message; and EPC tag URIs, which either round-trip exactly or are refused.
(``test_labels.py`` holds the fixed label examples, ``test_parse_properties.py`` the never-raise
properties; this file adds what the parsers *return*.)
"""

from __future__ import annotations

import calendar
import io
from datetime import UTC, datetime, timedelta

import zxingcpp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from scanners.checks import mod37_2_check_char, mod37_2_check_value
from scanners.labels import LabelData, render_label_png
from scanners.own import PAYLOAD_ALPHABET, format_ledger_id
from scanners.parse import parse_scan

SLOW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SYMBOLS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXT = settings(max_examples=300, deadline=None)

FIN_FIRST = "ABCDEFGHIJKLMNPQRSTUVWXYZ123456789"
DIGITS = "0123456789"
AN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

payloads = st.text(alphabet=PAYLOAD_ALPHABET, min_size=8, max_size=8)


def _chars(alphabet: str, n: int):
    return st.text(alphabet=alphabet, min_size=n, max_size=n)


@st.composite
def dins(draw) -> str:
    return (draw(_chars(FIN_FIRST, 1)) + draw(_chars(DIGITS, 4)) + draw(_chars(DIGITS, 2))
            + draw(_chars(DIGITS, 6)))


@st.composite
def isbt_messages(draw) -> tuple[str, list[tuple[str, str]]]:
    """A valid ISBT 128 string (single, concatenated or compound) and the (kind, value) it encodes."""
    din = draw(dins())
    flags = draw(st.sampled_from(["00", "01", "19", "A0", f"{60 + mod37_2_check_value(din)}"]))
    pdc = draw(st.sampled_from("ESTV")) + draw(_chars(DIGITS, 4))
    product = pdc + draw(_chars(AN, 1)) + draw(_chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ0", 1)) + draw(_chars("abc0", 1))
    year = draw(st.integers(2000, 2099))
    day = draw(st.integers(1, 366 if calendar.isleap(year) else 365))
    hour, minute = draw(st.integers(0, 23)), draw(st.integers(0, 59))
    expires = datetime(year, 1, 1, hour, minute, tzinfo=UTC) + timedelta(days=day - 1)
    parts = [
        (f"={din}{flags}", ("din", din)),
        (f"=<{product}", ("product_code", product)),
        (f"&>{(year - 2000) // 100}{year % 100:02d}{day:03d}{hour:02d}{minute:02d}",
         ("isbt_expiry", expires.isoformat())),
    ]
    if draw(st.booleans()):
        division = draw(_chars(AN, 6))
        parts.append((f"=,{division}", ("isbt_structure", division)))
    if draw(st.booleans()):
        sec = (draw(_chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 2)) + draw(_chars(AN, 6)) + din + "A00" + pdc
               + draw(_chars(AN, 3)) + expires.strftime("%Y%m%d"))
        parts.append((f"&,4{sec}", ("isbt_sec", sec)))
    parts = draw(st.permutations(parts))
    count = draw(st.integers(1, len(parts)))
    chosen = parts[:count]
    text = "".join(t for t, _ in chosen)
    compound = count > 2 or draw(st.booleans())
    if compound:
        text = f"=+{count:02d}000" + text
    return text, [ident for _, ident in chosen]


def _decode(image) -> list[tuple[str, str]]:
    return [(r.symbology_identifier, r.text) for r in zxingcpp.read_barcodes(image)]


@SLOW
@given(payloads, payloads, st.none() | dins())
def test_rendered_unit_labels_read_back_as_exactly_their_ids(unit, coi, din):
    label = LabelData(unit_label_id=format_ledger_id("UNT", unit), coi_id=format_ledger_id("COI", coi),
                      unit_kind="bag", isbt_din=din)
    found = _decode(Image.open(io.BytesIO(render_label_png(label))))
    assert len(found) == 2, found
    for symbology, text in found:
        result = parse_scan(symbology + text)
        assert result.ok, (text, result.errors)
        expected = {("unit_label", label.unit_label_id)}
        if text.startswith("LDG1"):
            expected.add(("coi", label.coi_id))
        assert {(i.kind, i.value) for i in result.identifiers} == expected


@SYMBOLS
@given(isbt_messages(), st.sampled_from(["code128", "datamatrix"]))
def test_isbt_symbols_read_back_as_exactly_what_they_encode(message, carrier):
    text, expected = message
    if carrier == "code128" and len(text) > 40:
        carrier = "datamatrix"
    fmt = zxingcpp.BarcodeFormat.Code128 if carrier == "code128" else zxingcpp.BarcodeFormat.DataMatrix
    found = _decode(zxingcpp.create_barcode(text, fmt).to_image(scale=3))
    assert [t for _, t in found] == [text]
    result = parse_scan(found[0][0] + found[0][1])
    assert result.ok, (text, result.errors)
    assert [(i.kind, i.value) for i in result.identifiers] == expected


@TEXT
@given(isbt_messages(), st.data())
def test_a_message_cut_short_never_reads_as_something_else(message, data):
    text, expected = message
    cut = data.draw(st.integers(1, len(text) - 1))
    result = parse_scan(text[:cut])
    if text.startswith("=+"):
        assert not result.ok and result.identifiers == (), text[:cut]
        return
    # concatenated structures: only whole structures, each exactly as encoded
    assert {(i.kind, i.value) for i in result.identifiers} <= set(expected), text[:cut]
    if result.ok:
        assert text[:cut] in {text[:n] for n in _boundaries(text)}


def _boundaries(text: str) -> list[int]:
    """Offsets where a structure of ``text`` ends (the valid cuts of a concatenation)."""
    ends, pos = [], 0
    while pos < len(text):
        nxt = min((text.find(m, pos + 2) for m in ("=", "&") if text.find(m, pos + 2) != -1), default=len(text))
        # data identifiers inside content cannot occur: contents hold no "=" or "&"
        ends.append(nxt)
        pos = nxt
    return ends


@TEXT
@given(st.integers(0, 6), st.text(alphabet=DIGITS, min_size=1, max_size=14), st.integers(0, 7))
def test_epc_tag_uris_round_trip_exactly_or_are_refused(partition_extra, serial, filter_value):
    prefix_len = 6 + partition_extra
    company = "0614141123456"[:prefix_len]
    item = "8123456"[: 13 - prefix_len]
    uri = f"urn:epc:tag:sgtin-96:{filter_value}.{company}.{item}.{serial}"
    result = parse_scan(uri)
    encodable = (serial == "0" or not serial.startswith("0")) and int(serial) < 2**38
    if not encodable:
        assert [e.code for e in result.errors] == ["EPC_NOT_ENCODABLE"], result.errors
        assert result.identifiers == ()
        return
    assert result.ok, result.errors
    epc = result.first("epc_uri")
    back = parse_scan(epc.hex).first("epc_uri")
    assert back.tag_uri == uri and back.value == epc.value
    assert result.values("serial") == (serial,)


def test_check_character_of_generated_dins_is_what_the_label_prints():
    # the label's eye-readable DIN line carries K computed by the same mod 37-2 (ST-001 A.1)
    label = LabelData(unit_label_id=format_ledger_id("UNT", "ABCD0000"), coi_id=format_ledger_id("COI", "XYZ98765"),
                      unit_kind="bag", isbt_din="G123417654321")
    assert f"DIN  G123417654321 {mod37_2_check_char('G123417654321')}" in label.text_lines()
    assert mod37_2_check_char("G123417654321") == "A"


def test_a_long_message_in_a_rectangular_data_matrix_reads_as_plain_data():
    """zxing-cpp encodes long data as a DMRE symbol (ISO/IEC 21471) and reports ``]d7`` (plain,
    modifier + 6); a GS1 DMRE would be ``]d8``. Both are Data Matrix modes the ledger reads."""
    text = "=+04000=100000000000000=<E0000000&>0000010000&,4AA0000001000000000000A00E000000020000101"
    found = zxingcpp.read_barcodes(zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.DataMatrix).to_image(scale=3))
    assert [(f.symbology_identifier, f.text) for f in found] == [("]d7", text)]
    result = parse_scan(found[0].symbology_identifier + found[0].text)
    assert result.ok, result.errors
    assert result.scheme == "isbt128"
