"""The doses an allogeneic patient was given, with their QC results and release: those facts sit on
the donor case's units (the dose, and the lot or bags it was made from), so the patient's case page
fetches them here (``api.portal.casedata``).

Read from ``genealogy_edges`` (``allocated_to`` donor dose -> patient case, ``derived`` ancestry) and
the ``audit_trail`` rows of those units (QC results, releases, with the release's e-signature:
printed name, meaning, time). No donor or patient pseudonym is in either table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ledger.domain.events_quality import ProductReleased, QCResultRecorded

from .common import loads, rows, sql

FACT_TYPES = (QCResultRecorded.__name__, ProductReleased.__name__)

ANCESTRY = """
WITH RECURSIVE up(node) AS (SELECT node_id FROM genealogy_nodes WHERE node_id = :dose
                            UNION SELECT e.src FROM genealogy_edges e JOIN up ON e.dst = up.node
                            WHERE e.relation = 'derived')
SELECT n.node_id, n.node_type, n.kind, n.label FROM genealogy_nodes n JOIN up ON n.node_id = up.node
WHERE n.node_type IN ('unit', 'lot')
"""


def doses_given(conn: Connection, patient_coi: str) -> list[dict[str, Any]]:
    """Each donor dose allocated to the patient case ``patient_coi``, in allocation order::

        [{unit_id, label, donor_coi, donor_case_id, allocated_at, status,
          qc: [{test, result, value, uom, at, unit_id, unit_label, event_id, corrected}],
          releases: [{at, signer, signer_name, meaning, signed_at, notes, unit_id, unit_label, event_id, corrected}]}]

    QC results and releases are those of the dose and of the units and lot it was made from.
    """
    doses = rows(conn.execute(sql(
        "SELECT e.src AS unit_id, MIN(e.position) AS position, MIN(e.at) AS allocated_at FROM genealogy_edges e "
        "JOIN cases c ON c.case_id = e.dst WHERE e.relation = 'allocated_to' AND c.coi = :coi "
        "GROUP BY e.src ORDER BY MIN(e.position)"), {"coi": patient_coi}))
    out = []
    for dose in doses:
        node = conn.execute(sql("SELECT label, coi, case_id, status FROM genealogy_nodes WHERE node_id = :n"),
                            {"n": dose["unit_id"]}).first()
        lineage = {r["node_id"]: r for r in rows(conn.execute(sql(ANCESTRY), {"dose": dose["unit_id"]}))}
        marks = ", ".join(f":u{i}" for i in range(len(lineage)))
        facts = rows(conn.execute(sql(
            "SELECT position, event_id, type, unit_id, recorded_at, occurred_at, signer, signer_name, sign_meaning, "
            f"signed_at, detail, corrected_by FROM audit_trail WHERE unit_id IN ({marks}) "  # noqa: S608
            f"AND type IN ('{FACT_TYPES[0]}', '{FACT_TYPES[1]}') ORDER BY position"),
            {f"u{i}": u for i, u in enumerate(lineage)})) if lineage else []
        qc, releases = [], []
        for fact in facts:
            data = loads(fact["detail"]) or {}
            where = {"unit_id": fact["unit_id"], "unit_label": lineage[fact["unit_id"]]["label"],
                     "event_id": fact["event_id"], "at": fact["occurred_at"] or fact["recorded_at"],
                     "corrected": bool(fact["corrected_by"])}
            if fact["type"] == QCResultRecorded.__name__:
                qc.append({"test": data.get("test"), "result": data.get("result"), "value": data.get("value"),
                           "uom": data.get("uom"), **where})
            else:
                releases.append({"signer": fact["signer"], "signer_name": fact["signer_name"],
                                 "meaning": fact["sign_meaning"], "signed_at": fact["signed_at"],
                                 "notes": data.get("notes"), **where})
        out.append({"unit_id": dose["unit_id"], "label": node[0] if node else None,
                    "donor_coi": node[1] if node else None, "donor_case_id": node[2] if node else None,
                    "status": node[3] if node else None, "allocated_at": dose["allocated_at"],
                    "qc": qc, "releases": releases})
    return out
