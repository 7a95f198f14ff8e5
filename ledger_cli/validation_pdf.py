"""The operational-qualification report as a PDF, rendered from the signed JSON document alone."""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

STYLES = getSampleStyleSheet()
SMALL = STYLES["BodyText"].clone("small", fontSize=7, leading=8.5)
GRID = TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                   ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8"))])
VERDICT_COLOUR = {"verified": "#1a7f37", "failed": "#b42318", "not verified": "#9a6700"}


def _p(text: Any, style=SMALL) -> Paragraph:
    return Paragraph(escape(str(text)), style)


def report_pdf(document: dict[str, Any]) -> bytes:
    report, sig = document["report"], document["signature"]
    env = report.get("environment", {})
    story: list[Any] = [
        Paragraph("Operational qualification report", STYLES["Title"]),
        _p(f"Generated {report.get('generated_at')} at commit {report.get('commit')}", STYLES["BodyText"]),
        _p(f"Result: {report['result'].upper()} - " + ", ".join(f"{v} {k}" for k, v in report["summary"].items()),
           STYLES["Heading2"]),
        _p("Run: " + ", ".join(f"{k} {v}" for k, v in report.get("run", {}).items()), STYLES["BodyText"]),
        _p("Environment: " + ", ".join(f"{k} {v}" for k, v in sorted(env.items())), STYLES["BodyText"]),
        _p(f"Signed (Ed25519) with key {sig['key_id']}: {sig['signature']}", SMALL),
        _p("Verify: ledger validation-verify REPORT.json --keys keyring.json", SMALL),
        Spacer(1, 4 * mm),
    ]
    rows = [[_p(h) for h in ("requirement", "clause", "risk", "verdict", "tests and outcomes")]]
    for req in report["requirements"]:
        colour = VERDICT_COLOUR[req["verdict"]]
        tests = "<br/>".join(f"{escape(t['test'])}: <b>{escape(t['outcome'])}</b>" for t in req["tests"])
        rows.append([Paragraph(f"<b>{escape(req['id'])}</b><br/>{escape(req['text'])}", SMALL), _p(req["clause"]),
                     _p(req["risk"]), Paragraph(f'<font color="{colour}"><b>{escape(req["verdict"])}</b></font>',
                                                SMALL), Paragraph(tests or "no test", SMALL)])
    table = Table(rows, colWidths=[w * mm for w in (90, 30, 10, 20, 117)], repeatRows=1)
    table.setStyle(GRID)
    story.append(table)
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=landscape(A4), title="Operational qualification report",
                      leftMargin=10 * mm, rightMargin=10 * mm, topMargin=10 * mm, bottomMargin=10 * mm).build(story)
    return out.getvalue()
