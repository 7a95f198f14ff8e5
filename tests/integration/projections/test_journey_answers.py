"""Each read model's answer for an autologous and an allogeneic journey (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from projections.cases_query import case_summary, list_cases
from projections.conditions_query import conditions_for_unit
from projections.custody_query import custody_timeline
from projections.exceptions_query import exceptions
from projections.genealogy_query import genealogy_for_coi, genealogy_for_unit
from projections.identifiers_query import identifiers_of, lookup_identifier

from .journeys import allogeneic, autologous


def _edges(graph):
    return {(e["from"], e["to"], e["relation"]) for e in graph["edges"]}


def test_autologous_journey(journey, runner, engine) -> None:
    a = autologous(journey)
    runner.catch_up()
    case, bag, shipper, final = (str(a[k]) for k in ("case", "bag", "shipper", "final"))
    spare = str(a["doses"][1])
    with engine.connect() as conn:
        summary = case_summary(conn, a["coi"])
        assert summary["status"] == "infused" and summary["kind"] == "autologous"
        assert summary["units"] == 4 and summary["treating_site"] == "HOSP-1"
        assert "patient_ref" not in summary
        assert [c["coi"] for c in list_cases(conn, status="infused")["items"]] == [a["coi"]]

        graph = genealogy_for_coi(conn, a["coi"])
        kinds = {n["id"]: (n["type"], n["kind"], n["status"]) for n in graph["nodes"]}
        assert kinds[case] == ("case", "autologous", "infused")  # the case status of every view
        assert kinds[bag] == ("unit", "apheresis_bag", "consumed")
        assert kinds[final] == ("unit", "final_product_bag", "infused")
        assert kinds[spare][2] == "labelled"
        (infusion,) = [n["id"] for n in graph["nodes"] if n["type"] == "infusion"]
        assert {(case, bag, "labelled"), (bag, final, "derived"), (bag, spare, "derived"),
                (final, infusion, "infused"), (case, infusion, "received")} <= _edges(graph)
        derived = next(e for e in graph["edges"] if (e["from"], e["to"]) == (bag, final))
        assert len(derived["event_ids"]) == 2  # UnitsDerived on the input, UnitLabelled on the output
        up_from_final = genealogy_for_unit(conn, final)
        assert {n["id"] for n in up_from_final["nodes"]} == {case, bag, final, infusion}

        custody = custody_timeline(conn, bag, now=journey.now)
        assert [i["holder"] for i in custody["intervals"]] == ["nurse", "courier.kim", "courier.kim",
                                                               "mfg.op"]
        assert custody["intervals"][2]["location"] == "MFG-1"  # the delivery moved it
        assert custody["ended_by"] == "consumed" and custody["pending_transfer"] is None
        assert all(i["via_container"] == shipper for i in custody["intervals"][1:])
        assert [g["kind"] for g in custody["gaps"]] == ["handover_gap"]
        assert custody["gaps"][0]["duration_s"] == 3 * 3600
        assert [s["tracking"] for s in custody["shipments"]] == ["CC123"]

        conditions = conditions_for_unit(conn, bag)
        assert conditions["summary"]["count"] == 10  # 8 inherited from the shipper + 2 own
        assert conditions["summary"]["max_celsius"] == 9.5
        assert {(s["source"], s["via_container"]) for s in conditions["summary"]["sources"]} == {
            (shipper, True), (bag, False)}
        (excursion,) = conditions["excursions"]
        assert excursion["excursion_id"] == str(a["excursion"])
        assert (excursion["status"], excursion["assessed_by"], excursion["assessor_name"]) == (
            "use", "qa.quinn", "Quinn Adams")
        assert excursion["duration_s"] == 1800 and excursion["source"] == shipper

        # Nothing closes by itself: the late acknowledgement only clears the overdue handover;
        # QA's e-signed assessment (use) is the excursion's disposition, no impact; QA dispositioned
        # the mismatch scan before signing off the review for release.
        assert {(r["kind"], r["severity"], r["cleared"]) for r in exceptions(conn, coi=a["coi"], now=journey.now)} == {
            ("operation_refused", "coi_critical", False),
            ("correction_pending", "gmp", False),  # a collected volume: GMP-critical
            ("overdue_handoff", "gmp", True)}
        done = exceptions(conn, coi=a["coi"], state="dispositioned", now=journey.now)
        assert {(r["kind"], r["classification"]) for r in done} == {("excursion_unassessed", "no_impact"),
                                                                    ("scan_mismatch", "no_impact")}
        assert lookup_identifier(conn, "A999917123456")[0]["unit_id"] == bag
        assert identifiers_of(conn, shipper)["sscc"] == "106141411234567897"


def test_allogeneic_pool_and_split_walked_both_ways(journey, runner, engine) -> None:
    b = allogeneic(journey)
    journey.failed_logins("dr.chen", 3)
    runner.catch_up()
    donor, pool = str(b["donor"]), str(b["pool"])
    bags, doses, patients = ([str(x) for x in b[k]] for k in ("bags", "doses", "patients"))
    with engine.connect() as conn:
        assert case_summary(conn, b["donor_coi"])["kind"] == "donor"
        assert [case_summary(conn, c)["status"] for c in b["patient_cois"]] == ["infused"] * 3

        down = genealogy_for_unit(conn, bags[0])  # a collection: down to every patient
        ids = {n["id"] for n in down["nodes"]}
        assert {pool, *doses, *patients, donor, bags[0]} <= ids
        assert bags[1] not in ids  # the other pooled bag is a sibling, not a relative
        up = genealogy_for_unit(conn, doses[1])  # a dose: up to both collections and the donor
        ids = {n["id"] for n in up["nodes"]}
        assert {pool, *bags, donor, patients[1]} <= ids
        assert not ({doses[0], doses[2], patients[0], patients[2]} & ids)

        patient = genealogy_for_coi(conn, b["patient_cois"][0])
        ids = {n["id"] for n in patient["nodes"]}
        assert {donor, *bags, pool, doses[0], patients[0]} <= ids
        assert not ({doses[1], doses[2], patients[1], patients[2]} & ids)
        assert (doses[0], patients[0], "allocated_to") in _edges(patient)
        allocation = next(e for e in patient["edges"] if e["relation"] == "allocated_to")
        assert len(allocation["event_ids"]) == 2  # on the patient case and on the dose

        donor_graph = genealogy_for_coi(conn, b["donor_coi"])
        assert {*patients} <= {n["id"] for n in donor_graph["nodes"]}
        assert {(bag, pool, "derived") for bag in bags} <= _edges(donor_graph)

        assert lookup_identifier(conn, "urn:epc:id:sgtin:0614141.812345.6789", "epc")[0][
            "unit_id"] == pool
        refused = exceptions(conn, coi=b["patient_cois"][0], now=journey.now)
        assert [r["kind"] for r in refused] == ["operation_refused"]
        access = [r for r in exceptions(conn, now=journey.now) if r["kind"] == "access_denied_burst"]
        assert access[0]["subject"] == "dr.chen" and access[0]["coi"] is None
        assert access[0]["severity"] == "informational"
        assert custody_timeline(conn, doses[0], now=journey.now + timedelta(days=9))["gaps"] == []
