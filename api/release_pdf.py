"""The printable certificate of review and release of one case (21 CFR 11.50 manifestations).

Rendered from the release summary alone (``ledger.services.release.release_summary``), so the
printout says what the JSON says: the case (no patient data), lots, products with their QC and
release, spec results, every exception with its disposition, deviations, the figures, and every
e-signature with its printed name, date/time and meaning.
"""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from .dossier_pdf import PAGE, STYLES, _p, _table


def _heading(text: str) -> Paragraph:
    return Paragraph(text, STYLES["Heading2"])


def _signature(sig: dict[str, Any] | None) -> str:
    if not sig:
        return "(not signed)"
    return f"{sig['printed_name']} ({sig['signer']}), {sig['signed_at']}, meaning: {sig['meaning']}"


def render_certificate(summary: dict[str, Any]) -> bytes:
    """The PDF bytes of the certificate of ``summary``."""
    buffer = io.BytesIO()
    coi = summary["coi"]
    doc = SimpleDocTemplate(buffer, pagesize=PAGE, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
                            bottomMargin=12 * mm, title=f"Review and release {coi}", author="COI/COC ledger")
    review = summary["review"]
    latest = review.get("latest")
    figures = summary["figures"]
    story: list[Any] = [
        Paragraph(f"Certificate of review and release: {coi}", STYLES["Title"]),
        _table(["Field", "Value"], [
            ["COI", coi], ["Case", f"{summary['role']} ({summary['kind']})"], ["Product", summary["product"]],
            ["Status", summary["status"]], ["Donor case(s)", ", ".join(summary["donor_cois"]) or "-"],
            ["Review signed off", (f"yes, {latest['printed_name']} ({latest['signer']}) at {latest['at']}"
                                   if latest else "no")],
            ["Review current", "yes" if review["current"] else "no"],
            ["Needle to needle (days)", figures["needle_to_needle_days"]],
            ["Manufacturing end to sign-off (h)", figures["manufacturing_end_to_signoff_h"]],
            ["Manufacturing end to release (h)", figures["manufacturing_end_to_release_h"]],
            ["Generated", summary["generated_at"]]], [60, 190]),
        _p("No patient identifiers are shown: the patient is known to the ledger only by a keyed pseudonym."),
        _heading("Lots"),
        _table(["Lot", "COI", "Process", "Site", "Started", "Filled", "Stages"],
               [[lot["lot"], lot["coi"], lot["process"], lot["site"], lot["started_at"], lot["filled_at"],
                 ", ".join(lot["stages"])] for lot in summary["lots"]] or [["-"] * 7],
               [30, 38, 40, 25, 40, 40, 60]),
        _heading("Products: QC and release"),
    ]
    for product in summary["products"]:
        release = product.get("release")
        story.append(_p(f"{product['kind']} {product['label']} (COI {product['coi']}, lot {product['lot'] or '-'}, "
                        f"expiry {product['expiry'] or '-'}): "
                        + (f"released {release['at']} by {_signature(release['signature'])}" if release
                           else "not released")))
        if product["qc"]:
            story.append(_table(["Unit", "QC test", "Result", "Value", "At", "Signature"],
                                [[q["unit"], q["test"], q["result"], f"{q['value'] if q['value'] is not None else ''}"
                                  f" {q['uom'] or ''}".strip(), q["at"], _signature(q["signature"])]
                                 for q in product["qc"]], [40, 40, 20, 30, 42, 100]))
    if not summary["products"]:
        story.append(_p("No final product."))
    story += [_heading("Specification results"),
              _table(["Name", "Kind", "Value", "Limits", "Verdict"],
                     [[r.get("name"), r.get("kind"), f"{r.get('value', '')} {r.get('uom') or ''}".strip(),
                       r.get("limits", ""), r.get("verdict")] for r in summary["spec_results"]] or [["-"] * 5],
                     [60, 25, 40, 60, 40]),
              _heading("Exceptions and their disposition"),
              _table(["Exception", "Severity", "State", "Cleared", "Classification", "Deviation", "Detail", "Opened"],
                     [[e["exception_id"], e["severity"], e["state"], "yes" if e["cleared"] else "no",
                       e["classification"] or "", e["deviation_id"] or "", e["detail"], e["opened_at"]]
                      for e in summary["exceptions"]] or [["none"] + [""] * 7],
                     [62, 22, 22, 14, 24, 22, 70, 40]),
              _p("Deviations: " + (", ".join(summary["deviations"]) or "none")),
              _heading("Signatures (printed name, date/time, meaning)"),
              _table(["Signed", "Printed name (user id)", "Meaning", "Event", "What"],
                     [[s["signed_at"], f"{s['printed_name']} ({s['signer']})", s["meaning"], s["type"], s["what"]]
                      for s in summary["signatures"]] or [["-"] * 5],
                     [42, 55, 22, 40, 110]),
              Spacer(1, 3 * mm)]

    def footer(canvas, document) -> None:
        canvas.setFont("Helvetica", 7)
        canvas.drawString(12 * mm, 6 * mm, f"Review and release {coi}, generated {summary['generated_at']} "
                                           f"- page {document.page}")

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
