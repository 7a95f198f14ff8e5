"""Rendered labels decode back to the same identifiers (zxing-cpp), in PNG, SVG and PDF."""

import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from scanners.label_pdf import render_label_sheet_pdf
from scanners.labels import LabelData, render_label_png, render_label_svg
from scanners.own import format_ledger_id
from scanners.parse import parse_scan

SVG = "{http://www.w3.org/2000/svg}"


def make_label(n: int = 0, **extra) -> LabelData:
    return LabelData(
        unit_label_id=format_ledger_id("UNT", f"ABCD{n:04d}"),
        coi_id=format_ledger_id("COI", "XYZ98765"),
        unit_kind="CAR-T infusion bag",
        **extra,
    )


LABELS = [
    make_label(0),
    make_label(8, expiry=date(2026, 12, 31), product_description="Autologous anti-CD19 CAR-T"),
    make_label(
        9,
        expiry=datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
        isbt_din="A999923123456",
        gs1_element_string="(01)09506000134352(21)BAG0001",
    ),
]


def decoded(image: Image.Image) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for result in zxingcpp.read_barcodes(image):
        found.setdefault(str(result.format), []).append(result.text)
    return found


def assert_round_trip(found: dict[str, list[str]], label: LabelData) -> None:
    qr_texts = [t for fmt, texts in found.items() if "QR" in fmt for t in texts]
    code128 = [t for fmt, texts in found.items() if "128" in fmt for t in texts]
    assert qr_texts == [label.qr_payload]
    assert code128 == [label.unit_label_id]
    scan = parse_scan(qr_texts[0])
    assert scan.ok
    assert scan.values("unit_label") == (label.unit_label_id,)
    assert scan.values("coi") == (label.coi_id,)
    assert parse_scan(code128[0]).values("unit_label") == (label.unit_label_id,)


@pytest.mark.parametrize("label", LABELS, ids=["plain", "expiry", "full"])
def test_png_round_trip(label):
    png = render_label_png(label)
    assert png.startswith(b"\x89PNG")
    assert_round_trip(decoded(Image.open(io.BytesIO(png))), label)


def test_png_low_dpi_still_decodes():
    label = LABELS[2]
    assert_round_trip(decoded(Image.open(io.BytesIO(render_label_png(label, dpi=150)))), label)


def _rasterise_svg_qr(root: ET.Element) -> Image.Image:
    """Draw the QR path (``M x,y H V H z`` squares) of our SVG into a bitmap."""
    qr = next(el for el in root if el.tag == SVG + "svg" and el.get("viewBox"))
    size = int(qr.get("viewBox").split()[2])
    image = Image.new("L", (size * 8, size * 8), 255)
    draw = ImageDraw.Draw(image)
    for path in qr.iter(SVG + "path"):
        for x, y, x2, y2, _ in re.findall(r"M(\d+),(\d+)H(\d+)V(\d+)H(\d+)z", path.get("d")):
            draw.rectangle([int(x) * 8, int(y) * 8, int(x2) * 8 - 1, int(y2) * 8 - 1], fill=0)
    return image


def _rasterise_svg_code128(root: ET.Element) -> Image.Image:
    bars = next(el for el in root if el.tag == SVG + "svg" and not el.get("viewBox"))
    image = Image.new("L", (1200, 200), 255)
    draw = ImageDraw.Draw(image)
    for rect in bars.iter(SVG + "rect"):
        if "black" in (rect.get("style") or ""):
            x = float(rect.get("x").removesuffix("mm")) * 20
            w = float(rect.get("width").removesuffix("mm")) * 20
            draw.rectangle([round(x), 20, round(x + w) - 1, 180], fill=0)
    return image


@pytest.mark.parametrize("label", LABELS, ids=["plain", "expiry", "full"])
def test_svg_is_well_formed_and_carries_text_and_codes(label):
    svg = render_label_svg(label)
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    texts = [t.text for t in root.iter(SVG + "text")]
    assert texts == label.text_lines()
    assert any(label.coi_id in t for t in texts)
    assert any(label.unit_label_id in t for t in texts)
    found = decoded(_rasterise_svg_qr(root)) | decoded(_rasterise_svg_code128(root))
    assert_round_trip(found, label)


def test_pdf_sheet_structure_and_text():
    labels = [make_label(n) for n in range(12)]
    pdf = render_label_sheet_pdf(labels, compress=False)
    assert pdf.startswith(b"%PDF")
    assert pdf.rstrip().endswith(b"%%EOF")
    for label in labels:
        assert label.unit_label_id.encode() in pdf
    assert labels[0].coi_id.encode() in pdf
    assert pdf.count(b"/Type /Page\n") == 2  # 10 labels per A4 page
    assert render_label_sheet_pdf(labels, compress=False) == pdf  # deterministic
    assert render_label_sheet_pdf(labels).startswith(b"%PDF")


def test_pdf_empty_sheet_refused():
    with pytest.raises(ValueError):
        render_label_sheet_pdf([])


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler) not installed")
def test_pdf_visual_round_trip():
    labels = LABELS[:2]
    pdf = render_label_sheet_pdf(labels)
    page = subprocess.run(
        ["pdftoppm", "-r", "200", "-png", "-f", "1", "-l", "1", "-singlefile", "-"],
        input=pdf,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    image = Image.open(io.BytesIO(page))
    results = zxingcpp.read_barcodes(image)
    texts = sorted(r.text for r in results)
    assert texts == sorted([lbl.qr_payload for lbl in labels] + [lbl.unit_label_id for lbl in labels])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"unit_label_id": "UNT-ABCD-0000-0"},
        {"coi_id": format_ledger_id("UNT", "ABCD0000")},
        {"unit_kind": ""},
        {"unit_kind": "bag\nJohn Doe"},
        {"product_description": "x" * 81},
        {"isbt_din": "A99992312345"},
    ],
)
def test_label_data_validation(kwargs):
    base = {
        "unit_label_id": format_ledger_id("UNT", "ABCD0000"),
        "coi_id": format_ledger_id("COI", "XYZ98765"),
        "unit_kind": "bag",
    }
    with pytest.raises(ValueError):
        LabelData(**(base | kwargs))


def test_label_data_has_no_patient_field_and_normalises_ids():
    import dataclasses

    names = {f.name for f in dataclasses.fields(LabelData)}
    assert not names & {"patient", "patient_name", "date_of_birth", "mrn", "name"}
    label = LabelData(
        unit_label_id=format_ledger_id("UNT", "ABCD0000").lower(),
        coi_id=format_ledger_id("COI", "XYZ98765").lower(),
        unit_kind="bag",
    )
    assert label.unit_label_id.isupper()
