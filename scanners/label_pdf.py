"""A printable A4 sheet of unit labels (PDF, reportlab), rendered to bytes.

Contract: :func:`render_label_sheet_pdf` lays labels out 2 across and 5 down per A4 page
(95 x 55 mm cells), adding pages as needed. Each label shows a QR code of the LDG1 payload,
a Code 128 of the unit label id and the same text lines as the PNG/SVG label
(:meth:`scanners.labels.LabelData.text_lines`). Output is deterministic (reportlab
``invariant`` mode: no timestamps or random ids), so the same labels give the same bytes.
``compress=False`` leaves page streams uncompressed (readable text, for tests and audits).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.code128 import Code128
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from scanners.labels import LabelData

COLUMNS, ROWS = 2, 5
CELL_W, CELL_H = 95 * mm, 55 * mm
QR_SIZE = 30 * mm
FONT, FONT_SIZE = "Courier", 7


def render_label_sheet_pdf(labels: Sequence[LabelData], *, compress: bool = True) -> bytes:
    """An A4 PDF with one cell per label. Raises ValueError for an empty list."""
    if not labels:
        raise ValueError("no labels to print")
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=int(compress), invariant=1)
    canvas.setTitle("Unit labels")
    canvas.setCreator("coi-ledger scanners")
    page_w, page_h = A4
    left = (page_w - COLUMNS * CELL_W) / 2
    top = page_h - (page_h - ROWS * CELL_H) / 2
    per_page = COLUMNS * ROWS
    for index, label in enumerate(labels):
        if index and index % per_page == 0:
            canvas.showPage()
        slot = index % per_page
        x = left + (slot % COLUMNS) * CELL_W
        y = top - (slot // COLUMNS + 1) * CELL_H
        _draw_label(canvas, label, x, y)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _draw_label(canvas: Canvas, label: LabelData, x: float, y: float) -> None:
    canvas.setLineWidth(0.3)
    canvas.setDash(2, 2)
    canvas.rect(x, y, CELL_W, CELL_H)  # cutting guide
    canvas.setDash()
    qr = QrCodeWidget(label.qr_payload, barLevel="M", barBorder=4)
    x0, y0, x1, y1 = qr.getBounds()
    drawing = Drawing(QR_SIZE, QR_SIZE, transform=[QR_SIZE / (x1 - x0), 0, 0, QR_SIZE / (y1 - y0), 0, 0])
    drawing.add(qr)
    renderPDF.draw(drawing, canvas, x + 2 * mm, y + CELL_H - QR_SIZE - 2 * mm)
    bars = Code128(
        label.unit_label_id,
        barWidth=0.26 * mm,
        barHeight=10 * mm,
        humanReadable=False,
        quiet=True,
        lquiet=5 * mm,
        rquiet=5 * mm,
    )
    bars.drawOn(canvas, x + (CELL_W - bars.width) / 2, y + 3 * mm)
    text = canvas.beginText(x + QR_SIZE + 5 * mm, y + CELL_H - 7 * mm)
    text.setFont(FONT, FONT_SIZE)
    text.setLeading(FONT_SIZE * 1.35)
    for line in label.text_lines():
        text.textLine(line[:34])
    canvas.drawText(text)
