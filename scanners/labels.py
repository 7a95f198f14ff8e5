"""Unit label rendering: a QR code (LDG1 payload), a Code 128 of the unit label id and text.

Contract:

* :class:`LabelData` holds only what may be printed on a bag: ids, unit kind, product
  description, expiry, ISBT DIN, GS1 element string. It has no field for patient data, and
  its free-text fields refuse control characters and overlong text.
* ``render_label_png`` / ``render_label_svg`` return bytes and do no I/O. The QR code
  encodes :func:`scanners.own.ldg1_payload` (error correction M); the Code 128 encodes the
  unit label id; text shows the COI id, unit id, kind, product, expiry, DIN and GS1 data.
* The PDF sheet lives in :mod:`scanners.label_pdf`.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET  # noqa: S405 - only parses SVG generated in this process
from dataclasses import dataclass
from datetime import date, datetime

import barcode
import qrcode
import qrcode.image.svg
from barcode.writer import ImageWriter, SVGWriter
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M

from scanners.checks import mod37_2_check_char
from scanners.own import ldg1_payload, parse_ledger_id

SVG_NS = "http://www.w3.org/2000/svg"
MAX_KIND = 40
MAX_DESCRIPTION = 80
MAX_GS1 = 120


@dataclass(frozen=True)
class LabelData:
    """What one unit label shows. Ids are validated and normalised to upper case."""

    unit_label_id: str
    coi_id: str
    unit_kind: str
    product_description: str | None = None
    expiry: date | datetime | None = None
    isbt_din: str | None = None
    gs1_element_string: str | None = None

    def __post_init__(self) -> None:
        for name, prefix in (("unit_label_id", "UNT"), ("coi_id", "COI")):
            ident, errors = parse_ledger_id(getattr(self, name), expected_prefix=prefix)
            if ident is None:
                raise ValueError(f"{name}: " + "; ".join(e.message for e in errors))
            object.__setattr__(self, name, ident.value)
        _check_text("unit_kind", self.unit_kind, MAX_KIND, required=True)
        _check_text("product_description", self.product_description, MAX_DESCRIPTION)
        _check_text("gs1_element_string", self.gs1_element_string, MAX_GS1)
        if self.isbt_din is not None:
            din = self.isbt_din.upper()
            if len(din) != 13 or not din.isalnum() or not din.isascii():
                raise ValueError("isbt_din must be the 13-character DIN")
            object.__setattr__(self, "isbt_din", din)

    @property
    def qr_payload(self) -> str:
        """The LDG1 payload encoded in the label's QR code."""
        return ldg1_payload(self.unit_label_id, self.coi_id)

    def text_lines(self) -> list[str]:
        """The human-readable lines printed next to the QR code, in order."""
        lines = [f"COI  {self.coi_id}", f"UNIT {self.unit_label_id}", f"KIND {self.unit_kind}"]
        if self.product_description:
            lines.append(self.product_description)
        if self.expiry is not None:
            lines.append(f"EXP  {_format_expiry(self.expiry)}")
        if self.isbt_din:
            lines.append(f"DIN  {self.isbt_din} {mod37_2_check_char(self.isbt_din)}")
        if self.gs1_element_string:
            lines.append(self.gs1_element_string)
        return lines


def render_label_png(label: LabelData, *, dpi: int = 300) -> bytes:
    """The label as a PNG (about 100 x 50 mm at ``dpi``)."""
    scale = dpi / 300
    qr = _qr(label.qr_payload, box_size=max(2, round(9 * scale))).make_image()
    qr_img = qr.get_image().convert("L")
    bars = (
        barcode.Code128(label.unit_label_id, writer=ImageWriter())
        .render(
            {
                "module_width": 0.254,
                "module_height": 10.0,
                "quiet_zone": 6.5,
                "dpi": dpi,
                "write_text": False,
            }
        )
        .convert("L")
    )
    font = ImageFont.load_default(size=max(10, round(30 * scale)))
    lines = label.text_lines()
    margin = round(20 * scale)
    line_height = round(38 * scale)
    text_width = max(round(font.getlength(line)) for line in lines)
    width = max(qr_img.width + margin + text_width + margin, bars.width) + 2 * margin
    top_height = max(qr_img.height, line_height * len(lines) + margin)
    canvas = Image.new("L", (width, margin + top_height + bars.height + margin), 255)
    canvas.paste(qr_img, (margin, margin))
    draw = ImageDraw.Draw(canvas)
    text_x = margin + qr_img.width + margin
    for number, line in enumerate(lines):
        draw.text((text_x, margin * 2 + number * line_height), line, fill=0, font=font)
    canvas.paste(bars, ((width - bars.width) // 2, margin + top_height))
    out = io.BytesIO()
    canvas.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()


def render_label_svg(label: LabelData) -> bytes:
    """The label as one SVG document (100 x 50 mm): QR, Code 128 and text elements."""
    root = ET.Element(f"{{{SVG_NS}}}svg", {"version": "1.1", "width": "100mm", "height": "50mm"})
    ET.SubElement(root, f"{{{SVG_NS}}}rect", {"width": "100%", "height": "100%", "fill": "white"})
    qr_svg = _qr(label.qr_payload, box_size=10).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    qr_el = ET.fromstring(qr_svg.to_string())  # noqa: S314 - generated in-process
    qr_el.attrib.update({"x": "2mm", "y": "2mm", "width": "30mm", "height": "30mm"})
    root.append(qr_el)
    out = io.BytesIO()
    barcode.Code128(label.unit_label_id, writer=SVGWriter()).write(
        out, {"module_width": 0.2, "module_height": 9.0, "quiet_zone": 4.0, "write_text": False}
    )
    bars_el = ET.fromstring(out.getvalue())  # noqa: S314 - generated in-process
    bars_el.attrib.update({"x": "2mm", "y": "34mm"})
    root.append(bars_el)
    for number, line in enumerate(label.text_lines()):
        text = ET.SubElement(
            root,
            f"{{{SVG_NS}}}text",
            {
                "x": "35mm",
                "y": f"{6 + number * 4.2:.1f}mm",
                "font-family": "monospace",
                "font-size": "3.2mm",
                "fill": "black",
            },
        )
        text.text = line
    # ET cannot combine default_namespace with plain attributes; map the SVG namespace to
    # the default prefix instead (idempotent, and only ever for the SVG namespace).
    ET.register_namespace("", SVG_NS)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _qr(payload: str, *, box_size: int) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=4)
    code.add_data(payload)
    code.make(fit=True)
    return code


def _format_expiry(expiry: date | datetime) -> str:
    if isinstance(expiry, datetime):
        return expiry.strftime("%Y-%m-%d %H:%M") + (" UTC" if expiry.tzinfo else "")
    return expiry.isoformat()


def _check_text(name: str, value: str | None, limit: int, *, required: bool = False) -> None:
    if value is None or value == "":
        if required:
            raise ValueError(f"{name} is required")
        return
    if len(value) > limit:
        raise ValueError(f"{name} is longer than {limit} characters")
    if any(not ch.isprintable() for ch in value):
        raise ValueError(f"{name} holds control characters")
