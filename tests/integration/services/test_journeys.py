"""Whole journeys through the application services, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from ledger.domain.case import fold_case
from ledger.errors import RuleViolation
from ledger.services import cases as case_service
from ledger.services.executor import Context
from ledger.services.journeys import run_allogeneic_journey, run_autologous_journey, run_review_journey
from ledger.services.release import release_summary
from ledger.streams import case_stream
from ledger.timefmt import parse_utc
from ledger.verification.verify import verify_database
from tests import tamper
from tests.support import ring_of


def test_autologous_needle_to_needle(seeded, database, sealing_key):
    result = run_autologous_journey(seeded)
    assert result.refused == ["COI_MISMATCH"]
    # every step lies in the past: a served ledger refuses an occurred_at in the future
    assert parse_utc(result.extra["ended_at"]) < seeded.quality.clock()
    product = seeded.units.state(result.units["final_product"])
    assert product.infused and product.released
    case_events = seeded.ledger.read_stream(case_stream(result.coi))
    assert [e.envelope["type"] for e in case_events].count("OperationRefused") == 1
    infused = [e for e in seeded.ledger.read_stream(result.units["final_product"]) if e.type == "ProductInfused"]
    assert infused[0].envelope["esign"]["meaning"] == "administered"
    assert infused[0].envelope["esign"]["printed_name"] == "Dr. Clara Clinician"
    assert verify_database(database, ring_of(sealing_key), workers=2).intact


def test_allogeneic_one_donor_many_patients(seeded, database, sealing_key):
    result = run_allogeneic_journey(seeded)
    assert len(result.extra["patients"]) == 2
    for patient in result.extra["patients"]:
        state = fold_case(e.envelope for e in seeded.ledger.read_stream(case_stream(patient)))
        assert len(state.allocated_units) == 1
    assert verify_database(database, ring_of(sealing_key), workers=1).intact


def test_the_review_journey_leaves_three_exceptions_for_qa(seeded, database, sealing_key):
    result = run_review_journey(seeded)
    assert result.refused == ["COI_MISMATCH"]
    summary = release_summary(seeded.reads(), result.coi, now=seeded.quality.clock(),
                              lot=result.extra["lot"])  # no read models here: the lot names the family
    assert sorted((e["kind"], e["severity"], e["state"]) for e in summary["exceptions"]) == [
        ("excursion_unassessed", "gmp", "open"), ("operation_refused", "coi_critical", "open"),
        ("scan_wrong_step", "informational", "open")]
    assert not summary["review"]["signed_off"] and [p["released"] for p in summary["products"]] == [False]
    assert {r["verdict"] for r in summary["spec_results"]} == {"within"}
    assert verify_database(database, ring_of(sealing_key), workers=1).intact


def test_no_patient_identifier_in_the_raw_store(seeded, database):
    mrn, wrong = "MRN-7315-2208", "MRN-5555-0000"
    run_autologous_journey(seeded, mrn=mrn, wrong_mrn=wrong)
    run_allogeneic_journey(seeded, patients=("MRN-ALLO-8841",))
    with tamper.owner_connection(database) as conn:
        rows = conn.execute(f"SELECT state FROM {database.events_table}").fetchall()
    blob = b"\n".join(bytes(r[0]) for r in rows)
    assert len(rows) > 50
    for secret in (mrn, wrong, "MRN-ALLO-8841", "DONOR-77"):
        assert secret.encode() not in blob
        assert json.dumps(secret)[1:-1].encode() not in blob


def test_an_issued_coi_that_is_taken_is_refused_not_overwritten(seeded, monkeypatch):
    """Enrolment trusts a freshly issued COI's stream to be new (no read on the first try); if
    the COI is in fact taken, the store refuses the write and the retried decision sees the case."""
    taken = seeded.cases.enrol(Context(actor="nurse", site="hospital-1"), kind="autologous", product="CAR-T",
                               treating_site="hospital-1", mrn="MRN-COLLIDE-1").result.answer["coi"]
    monkeypatch.setattr(case_service, "issue_coi", lambda: taken)
    with pytest.raises(RuleViolation) as refused:
        seeded.cases.enrol(Context(actor="nurse", site="hospital-1"), kind="autologous", product="CAR-T",
                           treating_site="hospital-1", mrn="MRN-COLLIDE-2")
    assert refused.value.code == "CASE_EXISTS"
    stream = seeded.ledger.read_stream(case_stream(taken))
    assert [e.envelope["type"] for e in stream] == ["CaseEnrolled"]
