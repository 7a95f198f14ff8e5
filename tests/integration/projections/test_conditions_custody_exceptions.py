"""Container inheritance of readings by packing interval, reading pages and downsampling,
custody gaps and overdue handoffs judged at query time, exceptions opened and resolved."""

from __future__ import annotations

from datetime import timedelta

from ledger.domain.conditions import decide_assess_excursion, decide_record_temperatures
from ledger.domain.custody import (
    decide_acknowledge,
    decide_dispatch,
    decide_handover,
    decide_pack,
    decide_unpack,
)
from ledger.domain.exceptions import fold_exceptions
from ledger.domain.manufacturing import decide_quarantine, decide_record_qc
from projections.conditions_query import conditions_for_unit
from projections.custody_query import custody_timeline
from projections.exceptions_query import exceptions

from .journeys import FRESH, readings


def _case_with_units(j):
    case = j.enrol("autologous", "MRN-5550001")
    bag = j.label(case, "apheresis_bag", spec=FRESH)
    other = j.label(case, "sample", spec={"min_celsius": 0, "max_celsius": 30})
    shipper = j.label(case, "shipper")
    return case, bag, other, shipper


def test_readings_inherited_only_while_packed(journey, runner, engine) -> None:
    j = journey
    case, bag, other, shipper = _case_with_units(j)
    start = j.now
    j.tick(minutes=30)
    j.run(decide_pack, j.unit(bag), j.unit(shipper), actor="nurse")  # packed 30 .. 90 min
    j.tick(minutes=60)
    j.run(decide_unpack, j.unit(bag), j.unit(shipper), actor="nurse")
    j.tick(minutes=30)
    temps = [5.0] * 3 + [9.0] * 7 + [5.0] * 3  # every 10 min from 0 to 120: hot from 30 to 90
    j.run(decide_record_temperatures, j.unit(shipper), logger="SHIP-LOG",
          readings=readings(start, temps), contents=[j.unit(bag)], actor="nurse")
    j.run(decide_record_temperatures, j.unit(shipper), logger="SHIP-LOG",  # a re-upload
          readings=readings(start, temps), contents=[j.unit(bag)], actor="nurse")
    j.run(decide_record_temperatures, j.unit(bag), logger="BAG-LOG",
          readings=readings(start + timedelta(minutes=5), [4.0, 4.5, 5.0]), actor="nurse")
    runner.catch_up()
    with engine.connect() as conn:
        got = conditions_for_unit(conn, str(bag))
        shipper_view = conditions_for_unit(conn, str(shipper))
        untouched = conditions_for_unit(conn, str(other))
    inherited = [r for r in got["readings"] if r["source"] == str(shipper)]
    assert [r["t"][11:16] for r in inherited] == ["08:30", "08:40", "08:50", "09:00", "09:10",
                                                  "09:20", "09:30"]  # bounds inclusive
    assert {r["celsius"] for r in inherited} == {9.0}  # the re-upload is not counted twice
    assert got["summary"]["count"] == 7 + 3
    assert (got["summary"]["min_celsius"], got["summary"]["max_celsius"]) == (4.0, 9.0)
    (excursion,) = got["excursions"]
    assert excursion["status"] == "unassessed" and excursion["source"] == str(shipper)
    assert excursion["ongoing"] is True  # the run lasts to the end of what it could see
    assert shipper_view["summary"]["count"] == 13
    # no range of its own: the shipper shows the bag's; the excursion is the bag's, not opened twice
    assert shipper_view["spec"] == {"min_celsius": 2, "max_celsius": 8, "source": "contents"}
    assert shipper_view["excursions"] == []
    assert untouched["summary"]["count"] == 0 and untouched["readings"] == []

    with engine.connect() as conn:  # pages of 4 walk every reading once
        seen, cursor = [], None
        while True:
            page = conditions_for_unit(conn, str(bag), limit=4, cursor=cursor)
            seen += page["readings"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == got["readings"]
        small = conditions_for_unit(conn, str(bag), limit=4, downsample=True)
    assert small["downsampled"] and len(small["readings"]) <= 4
    assert max(r["celsius"] for r in small["readings"]) == 9.0  # peaks survive


def test_overdue_handoff_and_delivery_judged_at_query_time(journey, runner, engine) -> None:
    j = journey
    case, bag, _, shipper = _case_with_units(j)
    offered = j.now
    j.run(decide_handover, j.unit(bag), "courier.kim", actor="nurse")
    runner.catch_up()
    with engine.connect() as conn:
        assert exceptions(conn, now=offered + timedelta(hours=1)) == []
        (late,) = exceptions(conn, now=offered + timedelta(hours=3))
        assert (late["kind"], late["unit_id"], late["age_s"]) == ("overdue_handoff", str(bag), 10800)
        timeline = custody_timeline(conn, str(bag), now=offered + timedelta(hours=3))
        assert timeline["pending_transfer"]["to_party"] == "courier.kim"
        assert [g["kind"] for g in timeline["gaps"]] == ["pending_transfer_overdue"]
        assert timeline["custodian"] == "nurse"  # custody moves only on acknowledgement
    j.tick(hours=1)
    j.run(decide_acknowledge, j.unit(bag), actor="courier.kim")
    j.run(decide_dispatch, j.unit(bag), carrier="ColdChain", tracking="CC9", from_site="HOSP-1",
          to_site="MFG-1", actor="courier.kim")
    runner.catch_up()
    with engine.connect() as conn:
        assert exceptions(conn, now=j.now + timedelta(hours=3)) == []  # acknowledged within 2 h
        (lost,) = exceptions(conn, now=j.now + timedelta(days=3))
        assert lost["kind"] == "overdue_delivery" and lost["subject"] == "CC9"
        timeline = custody_timeline(conn, str(bag), now=j.now + timedelta(days=3))
        assert [g["kind"] for g in timeline["gaps"]] == ["delivery_overdue"]
        assert [i["holder"] for i in timeline["intervals"]] == ["nurse", "courier.kim"]
        assert timeline["intervals"][0]["to"] == timeline["intervals"][1]["from"]


def test_exceptions_open_and_resolve(journey, runner, engine) -> None:
    j = journey
    case, bag, other, shipper = _case_with_units(j)
    coi = j.case(case).coi
    j.run(decide_record_temperatures, j.unit(bag), logger="L1",
          readings=readings(j.now - timedelta(hours=1), [5.0, 12.0, 5.0]), actor="nurse")
    j.run(decide_record_qc, j.unit(other), test="sterility", result="fail", actor="lab")
    j.run(decide_quarantine, j.unit(other), "sterility failed", actor="qa.quinn")
    runner.catch_up()
    with engine.connect() as conn:
        kinds = {e["kind"] for e in exceptions(conn, coi=coi, now=j.now)}
        assert kinds == {"excursion_unassessed", "qc_failed", "quarantine"}
    (excursion,) = j.unit(bag).excursions
    j.run(decide_assess_excursion, j.unit(bag), excursion.id, "discard", "12 °C is too warm",
          **j.sign("qa.quinn", "assessed"))
    j.run(decide_record_qc, j.unit(other), test="sterility", result="pass", actor="lab")
    runner.catch_up()
    with engine.connect() as conn:
        still = exceptions(conn, coi=coi, now=j.now)
        done = exceptions(conn, coi=coi, state="dispositioned", now=j.now)
        everything = exceptions(conn, state="all", now=j.now)
    # Nothing closes by itself: the passing retest only clears the failure, which stays open for QA;
    # QA's e-signed assessment is the disposition of the excursion (discard: product impact).
    assert {(e["kind"], e["cleared"]) for e in still} == {
        ("excursion_discarded", False), ("quarantine", False), ("qc_failed", True)}
    assert {(e["severity"]) for e in still} == {"gmp"}
    (closed,) = done
    assert (closed["kind"], closed["classification"], closed["cleared"]) == (
        "excursion_unassessed", "product_impact", True)
    assert len(closed["event_ids"]) == 2 and closed["dispositioned_event_id"] == closed["event_ids"][1]
    retest = next(e for e in still if e["kind"] == "qc_failed")
    assert retest["resolved_event_id"] == retest["event_ids"][1] and retest["age_s"] is not None
    _agrees_with_the_fold(j, everything)


def _agrees_with_the_fold(j, rows) -> None:
    """The read model and ``fold_exceptions`` apply the same rules: same ids, states, links."""
    log = [(event.envelope, event.hash) for _, event in j.ledger.read_log(limit=10_000)]
    folded = fold_exceptions(log, j.now)
    assert {r["exception_id"] for r in rows} == set(folded)
    for r in rows:
        f = folded[r["exception_id"]]
        assert (r["kind"], r["severity"], r["state"], r["cleared"], r["classification"], r["deviation_id"],
                r["dispositioned_event_id"], r["opened_hash"], r["resolved_event_id"], r["event_ids"]) == (
            f.kind, f.severity, f.state, f.cleared, f.classification, f.deviation_id,
            f.dispositioned_event_id, f.opened_hash, f.cleared_event_id, list(f.event_ids))
