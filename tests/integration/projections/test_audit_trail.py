"""The Part 11 audit trail: corrections with old and new values, signatures, filters, keyset
pages that visit every row exactly once, and the streaming CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from ledger.domain.case import decide_hold
from ledger.domain.corrections import decide_approve_correction
from projections.audit_query import audit_trail_csv, audit_trail_page

from .journeys import SECRET, autologous


def _all_pages(conn, filters, limit):
    rows, cursor, pages = [], None, 0
    while True:
        page = audit_trail_page(conn, filters, cursor, limit)
        rows += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return rows, pages


def test_correction_shows_old_and_new_and_keeps_the_corrected_row(journey, runner, engine) -> None:
    a = autologous(journey)
    runner.catch_up()
    with engine.connect() as conn:
        rows, _ = _all_pages(conn, {"coi": a["coi"]}, 100)
    by_id = {r["event_id"]: r for r in rows}
    original = by_id[a["collected_event"]]
    assert original["type"] == "MaterialCollected"
    assert original["detail"]["volume_ml"] == 212.5  # as recorded, never rewritten
    (correction,) = [r for r in rows if r["type"] == "EventCorrected"]
    assert original["corrected_by"] == []  # a collected volume is GMP-critical: pending until approved
    assert correction["corrected_event_id"] == a["collected_event"]
    assert correction["changes"] == [{"field": "volume_ml", "old": 212.5, "new": 215.0,
                                      "original": 212.5}]
    assert correction["why"] == "volume misread from the scale"
    assert correction["actor"] == "nurse" and correction["recorded_at"]
    released = next(r for r in rows if r["type"] == "ProductReleased")
    assert released["signature"]["printed_name"] == "Quinn Adams"
    assert released["signature"]["meaning"] == "released" and released["signature"]["signed_at"]

    bag = journey.envelopes(a["bag"])
    journey.run(decide_approve_correction, bag, correction["event_id"], "checked the scale's printout",
                **journey.sign("qa.quinn", "approved"))
    runner.catch_up()
    with engine.connect() as conn:
        rows, _ = _all_pages(conn, {"coi": a["coi"]}, 100)
    marked = next(r for r in rows if r["event_id"] == a["collected_event"])
    assert marked["corrected_by"] == [correction["event_id"]]
    (approval,) = [r for r in rows if r["type"] == "CorrectionApproved"]
    assert approval["signature"]["meaning"] == "approved" and approval["signature"]["printed_name"] == "Quinn Adams"
    refused = next(r for r in rows if r["type"] == "OperationRefused")
    assert refused["why"].startswith("COI_MISMATCH: ")
    assert all("patient_ref" not in str(r["detail"]) for r in rows)


def test_pages_cover_every_row_exactly_once_in_log_order(journey, runner, engine) -> None:
    a = autologous(journey)
    runner.catch_up()
    positions = [p for p, _ in journey.ledger.read_log(after=0, limit=10_000)]
    with engine.connect() as conn:
        rows, pages = _all_pages(conn, None, 7)
        assert [r["position"] for r in rows] == positions
        assert pages == -(-len(positions) // 7)  # a look-ahead row: no empty last page
        bag_rows, _ = _all_pages(conn, {"unit_id": str(a["bag"])}, 3)
        assert len({r["position"] for r in bag_rows}) == len(bag_rows)
        assert {r["type"] for r in bag_rows} >= {"UnitLabelled", "PackedInto", "ExcursionDetected",
                                                 "UnitsDerived", "EventCorrected"}
        # the container's own copies of the packing name the bag too
        assert sum(r["type"] == "PackedInto" for r in bag_rows) == 2
        both, _ = _all_pages(conn, {"coi": a["coi"], "unit_id": str(a["final"])}, 4)
        assert {r["type"] for r in both} >= {"UnitLabelled", "ProductReleased", "ProductInfused"}
        qa, _ = _all_pages(conn, {"actor": "qa.quinn", "type": "ProductReleased"}, 2)
        assert len(qa) == 1
        late, _ = _all_pages(conn, {"since": journey.now - timedelta(minutes=1)}, 50)
        early, _ = _all_pages(conn, {"until": journey.now - timedelta(minutes=1)}, 50)
        assert len(late) + len(early) == len(positions) and late and early


def test_csv_export_streams_every_row_and_defuses_formulas(journey, runner, engine) -> None:
    a = autologous(journey)
    journey.run(decide_hold, journey.case(a["case"]), '=HYPERLINK("http://x","click")',
                actor="coordinator")
    runner.catch_up()
    with engine.connect() as conn:
        lines = list(audit_trail_csv(conn, {"coi": a["coi"]}))
        rows, _ = _all_pages(conn, {"coi": a["coi"]}, 1000)
    parsed = list(csv.reader(io.StringIO("".join(lines))))
    header, body = parsed[0], parsed[1:]
    assert header[:4] == ["position", "recorded_at", "occurred_at", "actor"]
    assert [int(r[0]) for r in body] == [r["position"] for r in rows]
    hold = next(r for r in body if r[header.index("type")] == "CaseOnHold")
    assert hold[header.index("why")] == "'" + '=HYPERLINK("http://x","click")'
    correction = next(r for r in body if r[header.index("type")] == "EventCorrected")
    assert correction[header.index("old_new_values")] == "volume_ml: 212.5 -> 215"  # JCS: 215.0 is 215
    released = next(r for r in body if r[header.index("type")] == "ProductReleased")
    assert released[header.index("signature")].startswith("Quinn Adams (qa.quinn), ")
    assert released[header.index("signature")].endswith(", released")
    assert SECRET.decode() not in "".join(lines)
