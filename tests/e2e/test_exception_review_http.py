"""Review by exception, closed by QA: nothing closes by itself; QA dispositions each exception
with an e-signature naming the hash of the event that opened it, acknowledges informational ones
as a group, and handles others in a deviation closed with its CAPA. Each rule both ways, over
real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.services.journeys import DEMO_PASSWORD

from .conftest import HOSPITAL_QA
from .test_journey_http import MRN, WRONG_MRN, Api, iso


@pytest.fixture
def case(client, login, hospital_qa):
    """A hospital-1 case with three exceptions: a wrong-patient refusal (COI-critical), a failed
    QC test (GMP) and a scan of an unknown label (informational)."""
    api = Api(client, login)
    coi = api.event("nurse", "CaseEnrolled", {"kind": "autologous", "product": "CAR-T",
                                              "treating_site": "hospital-1", "mrn": MRN})["answer"]["coi"]
    spec = {"min_celsius": 2, "max_celsius": 8, "expiry": iso(datetime.now(UTC) + timedelta(days=3))}
    bag = api.event("nurse", "UnitLabelled", {"kind": "apheresis_bag", "spec": spec}, coi=coi)["answer"]["unit_id"]
    sample = api.event("nurse", "UnitLabelled", {"kind": "sample"}, coi=coi)["answer"]["unit_id"]
    api.event("nurse", "MaterialCollected", {"wristband": WRONG_MRN, "material": "leukapheresis",
              "collection_site": "hospital-1"}, unit_id=bag, expect=409, code="COI_MISMATCH")
    qc = api.event("nurse", "QCResultRecorded", {"test": "sterility", "result": "fail"}, unit_id=sample)
    scanned = client.post("/v1/scans", headers=login("nurse"), json={
        "raw": "unit:UNT-0000-0000-O", "purpose": "verify", "expect": {"coi": coi}})
    assert scanned.status_code == 201, scanned.text
    position = max(qc["position"], scanned.json()["event"]["position"])
    return {"api": api, "coi": coi, "sample": sample, "position": position}


def listed(client, login, coi, position, **params):
    answer = client.get("/v1/exceptions", headers=login(HOSPITAL_QA),
                        params={"coi": coi, "min_position": position, **params})
    assert answer.status_code == 200, answer.text
    return {e["kind"]: e for e in answer.json()}


def post(client, login, user, path, body, *, sign: str | None = "reviewed", expect=201, code=None):
    if sign:
        body = {**body, "esign": {"user_id": user, "password": DEMO_PASSWORD, "meaning": sign}}
    response = client.post(path, headers=login(user), json=body)
    assert response.status_code == expect, response.text
    if code:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == code, response.json()
    return response.json()


@pytest.mark.req("URS-P11-10f")
def test_qa_dispositions_acknowledges_and_closes_a_deviation(client, login, case):
    coi = case["coi"]
    found = listed(client, login, coi, case["position"])
    assert {k: (e["severity"], e["state"], e["cleared"]) for k, e in found.items()} == {
        "operation_refused": ("coi_critical", "open", False), "qc_failed": ("gmp", "open", False),
        "scan_unknown": ("informational", "open", False)}
    refused, failed, unknown = found["operation_refused"], found["qc_failed"], found["scan_unknown"]
    assert set(listed(client, login, coi, case["position"], severity="gmp")) == {"qc_failed"}

    path = f"/v1/exceptions/{refused['exception_id']}/disposition"
    body = {"event_hash": refused["opened_hash"], "classification": "no_impact",
            "comment": "the right patient was collected next; wristband mix-up at the chair"}
    post(client, login, "nurse", path, body, sign=None, expect=403, code="FORBIDDEN")  # not QA
    post(client, login, "qa", path, body, expect=403, code="SITE_FORBIDDEN")  # QA of the factory only
    post(client, login, HOSPITAL_QA, path, body, sign=None, expect=409, code="ESIGNATURE_REQUIRED")
    post(client, login, HOSPITAL_QA, path, body, sign="approved", expect=422, code="WRONG_SIGNATURE_MEANING")
    post(client, login, HOSPITAL_QA, path, {**body, "event_hash": failed["opened_hash"]}, expect=409,
         code="HASH_MISMATCH")
    post(client, login, HOSPITAL_QA, path, {**body, "classification": "deviation"}, expect=409,
         code="DEVIATION_REQUIRED")
    unknown_id = "qc_failed:00000000-0000-0000-0000-000000000000"
    post(client, login, HOSPITAL_QA, f"/v1/exceptions/{unknown_id}/disposition", body, expect=404,
         code="UNKNOWN_EXCEPTION")
    done = post(client, login, HOSPITAL_QA, path, body)
    post(client, login, HOSPITAL_QA, path, body, expect=409, code="ALREADY_DISPOSITIONED")

    ack = {"exception_ids": [unknown["exception_id"], failed["exception_id"]], "comment": "scan noise"}
    post(client, login, HOSPITAL_QA, "/v1/exceptions/acknowledge", ack, expect=409, code="NOT_INFORMATIONAL")
    post(client, login, "nurse", "/v1/exceptions/acknowledge", {**ack, "exception_ids": [unknown["exception_id"]]},
         sign=None, expect=403, code="FORBIDDEN")
    acked = post(client, login, HOSPITAL_QA, "/v1/exceptions/acknowledge",
                 {**ack, "exception_ids": [unknown["exception_id"]]}, sign=None)

    deviation = {"deviation_id": "DEV-2026-014", "title": "sterility failure of the QC sample", "coi": coi,
                 "exception_ids": [failed["exception_id"]]}
    post(client, login, "nurse", "/v1/deviations", deviation, sign=None, expect=403, code="FORBIDDEN")
    post(client, login, HOSPITAL_QA, "/v1/deviations", deviation, sign=None)
    post(client, login, HOSPITAL_QA, "/v1/deviations", deviation, sign=None, expect=409, code="DEVIATION_EXISTS")
    post(client, login, HOSPITAL_QA, f"/v1/exceptions/{failed['exception_id']}/disposition",
         {"event_hash": failed["opened_hash"], "classification": "deviation", "comment": "investigated",
          "deviation_id": "DEV-2026-099"}, expect=409, code="DEVIATION_REQUIRED")  # never opened
    post(client, login, HOSPITAL_QA, f"/v1/exceptions/{failed['exception_id']}/disposition",
         {"event_hash": failed["opened_hash"], "classification": "deviation", "comment": "investigated",
          "deviation_id": "DEV-2026-014"})
    shown = client.get("/v1/deviations/DEV-2026-014", headers=login("auditor"))
    assert shown.status_code == 200 and shown.json()["state"] == "open", shown.text
    assert client.get("/v1/deviations/DEV-NONE", headers=login("auditor")).json()["code"] == "DEVIATION_NOT_FOUND"
    close = {"capa": "CAPA-7", "outcome": "sampling technique retrained"}
    post(client, login, HOSPITAL_QA, "/v1/deviations/DEV-2026-014/close", close, sign=None, expect=409,
         code="ESIGNATURE_REQUIRED")
    post(client, login, HOSPITAL_QA, "/v1/deviations/DEV-2026-014/close", close, sign="reviewed", expect=422,
         code="WRONG_SIGNATURE_MEANING")
    closed = post(client, login, HOSPITAL_QA, "/v1/deviations/DEV-2026-014/close", close, sign="approved")
    post(client, login, HOSPITAL_QA, "/v1/deviations/DEV-2026-014/close", close, sign="approved", expect=409,
         code="DEVIATION_CLOSED")
    assert client.get("/v1/deviations/DEV-2026-014", headers=login("auditor")).json()["capa"] == "CAPA-7"

    position = max(done["position"], acked["position"], closed["position"])
    assert listed(client, login, coi, position) == {}  # nothing left open
    after = listed(client, login, coi, position, state="dispositioned")
    assert {k: (e["classification"], e["deviation_id"]) for k, e in after.items()} == {
        "operation_refused": ("no_impact", None), "qc_failed": ("deviation", "DEV-2026-014"),
        "scan_unknown": ("no_impact", None)}
    assert after["operation_refused"]["dispositioned_event_id"] == done["event_id"]
    assert after["scan_unknown"]["dispositioned_event_id"] == acked["event_id"]

    trail = client.get("/v1/audit-trail", params={"coi": coi, "limit": 500}, headers=login("auditor")).json()
    signed = {row["type"]: row["signature"] for row in trail["items"] if row["signature"]}
    assert signed["ExceptionDispositioned"]["meaning"] == "reviewed"
    assert signed["ExceptionDispositioned"]["printed_name"] == "Hana Hospital-QA"


def test_a_passing_retest_clears_but_does_not_close(client, login, case):
    api = case["api"]
    retest = api.event("nurse", "QCResultRecorded", {"test": "sterility", "result": "pass"}, unit_id=case["sample"])
    failed = listed(client, login, case["coi"], retest["position"])["qc_failed"]
    assert (failed["state"], failed["cleared"], failed["resolved_event_id"]) == ("open", True, retest["event_id"])
