"""The read models over the application services' own demo journeys (``ledger.services``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.domain.credentials import FAST_TEST_PARAMS
from ledger.domain.events_case import Backfilled
from ledger.services import build_services
from ledger.services.journeys import run_allogeneic_journey, run_autologous_journey, seed_identities
from ledger.timefmt import parse_utc
from projections.audit_query import audit_trail_page
from projections.cases_query import case_summary
from projections.conditions_query import conditions_for_unit
from projections.custody_query import custody_timeline
from projections.exceptions_query import exceptions
from projections.genealogy_query import genealogy_for_coi


@pytest.fixture
def services(domain_ledger, engine):
    built = build_services(domain_ledger, engine, master_secret=b"test-master-secret",
                           argon2=FAST_TEST_PARAMS)
    seed_identities(built)
    return built


def test_service_journeys_read_back(services, runner, engine) -> None:
    auto = run_autologous_journey(services)
    allo = run_allogeneic_journey(services)
    runner.catch_up()
    now = datetime.now(UTC)
    bag, product = str(auto.units["apheresis_bag"]), str(auto.units["final_product"])
    with engine.connect() as conn:
        assert case_summary(conn, auto.coi)["status"] == "infused"
        graph = genealogy_for_coi(conn, auto.coi)
        lot = str(auto.units["lot"])  # staged manufacturing: bag -> lot -> final product
        assert {(e["from"], e["to"]) for e in graph["edges"] if e["relation"] == "derived"} >= {
            (bag, lot), (lot, product)}
        started = services.ledger.read_stream(auto.units["lot"])[0].envelope
        labelled = services.ledger.read_stream(auto.units["final_product"])[0].envelope
        assert (started["type"], labelled["type"]) == ("ManufacturingStarted", "UnitLabelled")
        assert parse_utc(labelled["occurred_at"]) - parse_utc(started["occurred_at"]) >= timedelta(days=9)
        assert auto.extra["manufacturing_days"] >= 9
        node = next(n for n in graph["nodes"] if n["id"] == lot)
        assert (node["type"], node["label"], node["status"], node["coi"]) == ("lot", "LOT-1", "filled", auto.coi)
        assert next(n for n in graph["nodes"] if n["id"] == bag)["status"] == "consumed"
        assert custody_timeline(conn, bag, now=now)["ended_by"] == "consumed"
        lot_rows = [r for r in audit_trail_page(conn, {"coi": auto.coi}, None, 1000)["items"]
                    if r["stream"] == lot and r["type"] != Backfilled.__name__]  # the demo's steps are backfills
        assert [r["what"] for r in lot_rows][:2] == [
            "lot LOT-1 started at factory-1 (transduction-expansion): 1 input(s) consumed", "lot LOT-1: activation"]
        conditions = conditions_for_unit(conn, bag)
        assert conditions["summary"]["count"] == 60  # all inherited from the shipper's logger
        assert [x["status"] for x in conditions["excursions"]] == ["use"]
        custody = custody_timeline(conn, product, now=now)
        assert custody["ended_by"] == "infused" and custody["intervals"][-1]["holder"] == "clinician"
        refused = [e for e in exceptions(conn, coi=auto.coi, now=now) if e["kind"] == "operation_refused"]
        assert len(refused) == len(auto.refused) == 1
        trail = audit_trail_page(conn, {"coi": auto.coi}, None, 1000)["items"]
        signed = [r for r in trail if r["signature"]]
        assert {r["signature"]["meaning"] for r in signed} == {"assessed", "reviewed", "released", "administered"}
        for patient in allo.extra["patients"]:
            assert case_summary(conn, patient)["status"] == "infused"
            nodes = genealogy_for_coi(conn, patient)["nodes"]
            assert allo.coi in {n["coi"] for n in nodes}  # up to the donor
