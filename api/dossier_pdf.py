"""The dossier as a human-readable PDF (21 CFR 11.10(b) copy; 11.50 manifestations; Annex 11 §8.2).

Rendered from the bundle alone (``ledger.verification.dossier``), so the printout says exactly what the
verifiable JSON says: case header (no patient data), genealogy as an indented tree, custody per
unit, a temperature chart per unit with its spec band and excursions shaded, excursions with
their assessment, the audit trail with every signature's printed name, date/time and meaning and
corrections marked (old value struck through, new value shown), and the verification result.
Units are named by their labels, people by their printed names (user id in brackets), a step
recorded on several streams (packing, a container's moves) is one row, and columns are wide
enough for an RFC 3339 time or an event type never to be split.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from projections.audit_query import one_row_per_step, readable

STYLES = getSampleStyleSheet()
BODY, SMALL = STYLES["BodyText"], STYLES["BodyText"].clone("small", fontSize=7, leading=8.5)
GRID = TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                   ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                   ("FONTSIZE", (0, 0), (-1, -1), 7), ("LEADING", (0, 0), (-1, -1), 8.5)])
PAGE = landscape(A4)


def _p(text: Any, style=SMALL) -> Paragraph:
    return Paragraph(escape("" if text is None else str(text)), style)


def _table(header: Sequence[str], rows: list[list[Any]], widths: Sequence[float]) -> Table:
    cells = [[_p(h) for h in header]] + [[c if isinstance(c, Paragraph) else _p(c) for c in r] for r in rows]
    table = Table(cells, colWidths=[w * mm for w in widths], repeatRows=1)
    table.setStyle(GRID)
    return table


def signature_text(sig: dict[str, Any] | None) -> str:
    """Printed name, date/time and meaning: all three, always (11.50)."""
    if not sig:
        return ""
    return f"{sig['printed_name']} ({sig['signer']}), {sig['signed_at']}, {sig['meaning']}"


class Readable:
    """Unit ids -> labels and user ids -> "printed name (id)", from the bundle's summary."""

    def __init__(self, summary: dict[str, Any]) -> None:
        self.labels = {n["id"]: n["label"] for n in summary["genealogy"]["nodes"]
                       if n["type"] == "unit" and n.get("label")}
        self.names: dict[str, str] = summary.get("names") or {}

    def who(self, party: str | None) -> str:
        if not party:
            return ""
        name = self.names.get(party)
        return f"{name} ({party})" if name else party

    def text(self, value: str | None) -> str:
        return readable(value, self.labels) or ""


def _header(bundle: dict[str, Any]) -> list[Any]:
    case = bundle["summary"]["case"]
    rows = [["COI", bundle["coi"]], ["Product", case.get("product")], ["Kind", case.get("kind")],
            ["Status", case.get("status")], ["Treating site", case.get("treating_site")],
            ["Collection site", case.get("collection_site")], ["Enrolled", case.get("enrolled_at")],
            ["Dossier generated", bundle["generated_at"]]]
    return [Paragraph(f"Case dossier {escape(bundle['coi'])}", STYLES["Title"]),
            _table(["Field", "Value"], rows, [45, 150]),
            _p("No patient identifiers are shown: the patient is known to the ledger only by a keyed pseudonym.")]


def _genealogy(graph: dict[str, Any]) -> list[Any]:
    nodes = {n["id"]: n for n in graph["nodes"]}
    children: dict[str, list[tuple[str, str]]] = {}
    incoming = set()
    for e in graph["edges"]:
        children.setdefault(e["from"], []).append((e["to"], e["relation"]))
        incoming.add(e["to"])
    out: list[Any] = [Paragraph("Genealogy", STYLES["Heading2"])]

    def line(node_id: str, relation: str, depth: int, seen: frozenset[str]) -> None:
        n = nodes.get(node_id, {"type": "?", "label": node_id})
        text = f"{relation + ': ' if relation else ''}{n['type']} {n.get('kind') or ''} {n.get('label') or ''}" \
               f" [{n.get('status') or ''}]"
        out.append(Paragraph(escape(text), SMALL.clone(f"g{depth}", leftIndent=depth * 6 * mm)))
        for child, rel in children.get(node_id, []):
            if child not in seen:
                line(child, rel, depth + 1, seen | {child})

    for root in [n for n in nodes if n not in incoming]:
        line(root, "", 0, frozenset({root}))
    return out


def _custody(unit: dict[str, Any], say: Readable) -> list[Any]:
    custody = unit.get("custody")
    if not custody:
        return []
    rows = [[say.who(i["holder"]), i["location"], i["from"], i["to"] or "(current)", say.text(i["via_container"])]
            for i in custody["intervals"]]
    return [_p(f"Custody: current custodian {say.who(custody.get('custodian'))}, location {custody.get('location')}"
               + (f", ended {custody['ended_by']} at {custody['ended_at']}" if custody.get("ended_at") else "")),
            _table(["Holder", "Location", "From", "To", "Via container"], rows, [55, 40, 45, 45, 70])]


def _seconds(t: str, t0: datetime) -> float:
    return (datetime.fromisoformat(t) - t0).total_seconds() / 3600


def spec_text(spec: dict[str, Any]) -> str:
    """The temperature range as printed: "green: spec 2..8 °C", ">= 2", "<= 8", or "no spec"."""
    low, high = spec.get("min_celsius"), spec.get("max_celsius")
    if low is None and high is None:
        return "no spec"
    text = (f"{low:g}..{high:g}" if low is not None and high is not None
            else f">= {low:g}" if high is None else f"<= {high:g}")
    inherited = " (inherited from contents)" if spec.get("source") == "contents" else ""
    return f"green: spec {text} °C{inherited}"


def chart(conditions: dict[str, Any], width: float = 250 * mm, height: float = 60 * mm) -> Drawing | None:
    """Readings over time (hours), the spec band shaded green, excursions shaded red."""
    readings = conditions.get("readings") or []
    if not readings:
        return None
    t0 = datetime.fromisoformat(readings[0]["t"])
    points = [(_seconds(r["t"], t0), float(r["celsius"])) for r in readings]
    spec = conditions.get("spec") or {}
    lo_spec, hi_spec = spec.get("min_celsius"), spec.get("max_celsius")
    values = [y for _, y in points] + [v for v in (lo_spec, hi_spec) if v is not None]
    ymin, ymax = min(values) - 1, max(values) + 1
    xmax = max(points[-1][0], 0.01)
    drawing = Drawing(width, height)
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 12 * mm, 8 * mm, width - 20 * mm, height - 14 * mm
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = 0, xmax
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax = ymin, ymax
    outside = [(x, y) for x, y in points
               if (lo_spec is not None and y < lo_spec) or (hi_spec is not None and y > hi_spec)]
    plot.data = [points] + ([outside] if outside else [])
    plot.lines[0].strokeColor = colors.darkblue
    if outside:
        plot.lines[1].strokeColor = None
        plot.lines[1].symbol = makeMarker("FilledCircle", size=3, fillColor=colors.red)

    def px(x: float) -> float:
        return plot.x + x / xmax * plot.width

    def py(y: float) -> float:
        return plot.y + (y - ymin) / (ymax - ymin) * plot.height

    if lo_spec is not None or hi_spec is not None:
        low, high = py(lo_spec if lo_spec is not None else ymin), py(hi_spec if hi_spec is not None else ymax)
        drawing.add(Rect(plot.x, low, plot.width, high - low, fillColor=colors.HexColor("#dff0d8"), strokeColor=None))
    for x in conditions.get("excursions") or []:
        start, end = _seconds(x["start"], t0), _seconds(x["end"] or readings[-1]["t"], t0)
        drawing.add(Rect(px(max(start, 0)), plot.y, max(px(end) - px(max(start, 0)), 1), plot.height,
                         fillColor=colors.HexColor("#f8d7da"), strokeColor=None))
    drawing.add(plot)
    drawing.add(String(plot.x, height - 5 * mm, f"°C over hours from {readings[0]['t']}; "
                       f"{spec_text(spec)}; red: excursions", fontSize=7))
    return drawing


def _conditions(unit: dict[str, Any]) -> list[Any]:
    cond = unit.get("conditions")
    if not cond or not cond.get("readings"):
        return []
    out: list[Any] = [_p(f"Temperatures: {cond['summary']['count']} readings, "
                         f"{cond['summary']['min_celsius']}..{cond['summary']['max_celsius']} °C"
                         + (" (chart downsampled, peaks kept)" if cond["summary"]["count"] > len(cond["readings"])
                            else ""))]
    drawing = chart(cond)
    if drawing is not None:
        out.append(drawing)
    rows = [[x["start"], x["end"] or "(ongoing)", x["duration_s"], f"{x['min_celsius']}..{x['max_celsius']}",
             x["status"], x.get("rationale") or "",
             f"{x.get('assessor_name') or ''} {x.get('assessed_at') or ''}".strip()]
            for x in cond.get("excursions") or []]
    if rows:
        out.append(_table(["Excursion start", "End", "Seconds", "°C", "Assessment", "Rationale", "Assessed by, at"],
                          rows, [42, 42, 16, 22, 20, 74, 52]))
    return out


def _units(summary: dict[str, Any], say: Readable) -> list[Any]:
    out: list[Any] = [Paragraph("Units: custody and conditions", STYLES["Heading2"])]
    for unit in summary["units"]:
        about = unit.get("custody") or unit.get("conditions") or {}
        label = about.get("label") or say.text(unit["unit_id"])
        out.append(Paragraph(escape(f"{about.get('kind', 'unit')} {label}"), STYLES["Heading3"]))
        out += _custody(unit, say) + _conditions(unit) + [Spacer(1, 3 * mm)]
    return out


def _changes(changes: list[dict[str, Any]]) -> str:
    """Each changed field: old value struck through, new value in bold (Annex 11 §8.2)."""
    return "".join(f"<br/>{escape(str(c['field']))}: <strike>{escape(repr(c.get('old')))}</strike>"
                   f" -&gt; <b>{escape(repr(c.get('new')))}</b>" for c in changes)


def _what(row: dict[str, Any], fixes: dict[str, dict[str, Any]], say: Readable) -> Paragraph:
    what = row.get("what") or row["type"]
    if row["contents"]:  # the container's row says what moved inside it
        what += f" (contents: {', '.join(row['contents'])})"
    text = escape(say.text(what)) + _changes(row.get("changes") or [])
    for fix in (fixes.get(e) for e in row.get("corrected_by") or []):
        if fix is not None:
            text += (f"<br/><b>CORRECTED</b> {escape(fix['recorded_at'])} by {escape(fix['actor'])} "
                     f"({escape(fix.get('why') or '')}):" + _changes(fix.get("changes") or []))
    return Paragraph(text, SMALL)


def _when(row: dict[str, Any]) -> Paragraph:
    occurred = row.get("occurred_at")
    return Paragraph(escape(row["recorded_at"]) + (f"<br/>{escape(occurred)}" if occurred else ""), SMALL)


def _trail(summary: dict[str, Any], say: Readable) -> list[Any]:
    fixes = {r["event_id"]: r for r in summary["audit_trail"] if r.get("changes")}
    rows = [[_when(r), say.who(r["actor"]) + (f" for {say.who(r['on_behalf'])}" if r.get("on_behalf") else ""),
             r["type"], _what(r, fixes, say), r.get("why") or "", signature_text(r.get("signature"))]
            for r in one_row_per_step(summary["audit_trail"])]
    return [Paragraph("Audit trail (21 CFR 11.10(e); signatures per 11.50)", STYLES["Heading2"]),
            _p("A step recorded on several streams (packing; a container moved with its contents) is one row."),
            _table(["Recorded (server), occurred", "Who", "Type", "What (corrections marked)", "Why",
                    "Signature: printed name, date/time, meaning"], rows, [40, 34, 38, 78, 32, 48])]


def _verification(bundle: dict[str, Any], findings: Sequence[Any]) -> list[Any]:
    cp = bundle["checkpoint"]
    events = sum(len(s["events"]) for s in bundle["streams"])
    rows = [["Result", "INTACT" if not findings else f"NOT INTACT: {len(findings)} findings"],
            ["Events / streams", f"{events} events in {len(bundle['streams'])} streams"],
            ["Checkpoint", f"{cp['origin']}, tree size {cp['tree_size']}, issued {cp['issued_at']}"],
            ["Root (base64)", cp["root"]], ["Checkpoint key", cp["key_id"]],
            ["Sealing keys", ", ".join(f"{k['key_id']} (from {k['valid_from']})" for k in bundle["keys"])]]
    out = [Paragraph("Verification", STYLES["Heading2"]), _table(["Check", "Value"], rows, [40, 200])]
    out += [_p(f.line() if hasattr(f, "line") else f) for f in findings[:50]]
    out.append(_p("Verify the JSON dossier independently: python tools/verify_dossier.py FILE --keys RING.json "
                  "or ledger verify --dossier FILE; compare the sealing key ids with the published key ring."))
    return out


def render_pdf(bundle: dict[str, Any], findings: Sequence[Any]) -> bytes:
    """The PDF bytes of ``bundle``; ``findings`` is ``verify_dossier(bundle)`` (shown as the result)."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=PAGE, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
                            bottomMargin=12 * mm, title=f"Dossier {bundle['coi']}", author="COI/COC ledger")
    summary = bundle["summary"]
    say = Readable(summary)
    story = [*_header(bundle), *_verification(bundle, findings), *_genealogy(summary["genealogy"]),
             *_units(summary, say), *_trail(summary, say)]

    def footer(canvas, document) -> None:
        canvas.setFont("Helvetica", 7)
        canvas.drawString(12 * mm, 6 * mm, f"Dossier {bundle['coi']} generated {bundle['generated_at']} "
                                           f"- page {document.page}")

    doc.build([KeepTogether(story[:2]), *story[2:]], onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
