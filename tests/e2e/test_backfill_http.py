"""Issue 13 (authority), backfill: an event that occurred more than LEDGER_BACKFILL_HOURS before
the server time is recorded only with the `backfill` permission and a reason, and the backfill
itself is sealed as a `Backfilled` event in the same transaction (SQLite and PostgreSQL, HTTP)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from ledger.domain.events_case import Backfilled

TEN_DAYS_AGO = (datetime.now(UTC) - timedelta(days=10)).isoformat()
CTX = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld", {"coi": "https://coi-ledger.dev/epcis/"}]


def _enrol(client, headers, mrn: str) -> str:
    body = {"kind": "autologous", "product": "CAR-T", "treating_site": "hospital-1", "mrn": mrn}
    response = client.post("/v1/cases", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()["answer"]["coi"]


def _hold(coi: str, occurred_at: str, **extra) -> dict:
    return {"type": "CaseOnHold", "coi": coi, "occurred_at": occurred_at, "data": {"reason": "slot"}, **extra}


def _problem(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.text


def _stream(client, stream: str) -> list[dict]:
    return [e.envelope for e in client.app.state.container.ledger.read_stream(UUID(stream))]


@pytest.mark.req("URS-A11-9")
def test_an_old_event_needs_the_permission_and_a_reason(client, login):
    nurse, clinician = login("nurse"), login("clinician")
    coi = _enrol(client, nurse, "MRN-BACKFILL-1")
    before = client.get("/v1/ledger/info", headers=nurse).json()
    _problem(client.post("/v1/events", headers=nurse, json=_hold(coi, TEN_DAYS_AGO)),
             422, "BACKFILL_REASON_REQUIRED")
    _problem(client.post("/v1/events", headers=clinician,  # may hold a case, may not backfill
                         json=_hold(coi, TEN_DAYS_AGO, backfill_reason="paper record")),
             403, "BACKFILL_FORBIDDEN")
    _problem(client.post("/v1/cases", headers=nurse, json={
        "kind": "autologous", "product": "CAR-T", "treating_site": "hospital-1", "mrn": "MRN-BACKFILL-2",
        "occurred_at": TEN_DAYS_AGO}), 422, "BACKFILL_REASON_REQUIRED")
    assert client.get("/v1/ledger/info", headers=nurse).json() == before  # nothing was written


@pytest.mark.req("URS-ALCOA-CONT")
def test_a_permitted_backfill_is_sealed_with_its_record_in_the_same_commit(client, login):
    nurse = login("nurse")
    coi = _enrol(client, nurse, "MRN-BACKFILL-3")
    response = client.post("/v1/events", headers=nurse,
                           json=_hold(coi, TEN_DAYS_AGO, backfill_reason="entered from the paper batch record"))
    assert response.status_code == 201, response.text
    held, record = response.json()["events"]
    assert record["position"] == held["position"] + 1 and record["seq"] == held["seq"] + 1
    assert record["stream"] == held["stream"]

    envelopes = _stream(client, held["stream"])
    hold_env, backfilled = envelopes[-2], envelopes[-1]
    assert hold_env["type"] == "CaseOnHold" and hold_env["occurred_at"].startswith(TEN_DAYS_AGO[:16])
    assert backfilled["type"] == Backfilled.__name__ and backfilled["actor"] == "nurse"
    assert backfilled["occurred_at"] is None and backfilled["recorded_at"] == hold_env["recorded_at"]
    assert backfilled["data"]["reason"] == "entered from the paper batch record"
    assert backfilled["data"]["occurred_at"] == hold_env["occurred_at"]
    assert backfilled["data"]["events"] == [{"type": "CaseOnHold", "stream": held["stream"]}]
    assert backfilled["prev"] == next(r for r in client.app.state.container.ledger.read_stream(
        UUID(held["stream"])) if r.envelope["seq"] == held["seq"]).hash

    container = client.app.state.container
    assert container.wait_for(record["position"], timeout=10)
    trail = client.get("/v1/audit-trail", headers=login("auditor"), params={"coi": coi, "type": Backfilled.__name__})
    assert trail.status_code == 200, trail.text
    text = json.dumps(trail.json())
    assert "recorded late (backfill), having occurred at" in text and "entered from the paper batch record" in text


def test_within_the_tolerance_nothing_changes(client, login):
    courier_queue = (datetime.now(UTC) - timedelta(hours=60)).isoformat()
    clinician = login("clinician")  # no backfill permission, no reason: a late entry within 72 h
    coi = _enrol(client, login("nurse"), "MRN-BACKFILL-4")
    response = client.post("/v1/events", headers=clinician, json=_hold(coi, courier_queue))
    assert response.status_code == 201, response.text
    assert [e["seq"] for e in response.json()["events"]] == [2]
    assert [e["type"] for e in _stream(client, response.json()["stream"])] == ["CaseEnrolled", "CaseOnHold"]


def test_a_batch_records_each_backfilled_command(client, login):
    nurse = login("nurse")
    coi = _enrol(client, nurse, "MRN-BACKFILL-5")
    now = datetime.now(UTC).isoformat()
    resumed = {"type": "CaseResumed", "coi": coi, "occurred_at": now, "data": {"reason": "slot found"}}
    refused = client.post("/v1/events/batch", headers=nurse, json={"events": [_hold(coi, TEN_DAYS_AGO), resumed]})
    _problem(refused, 422, "BACKFILL_REASON_REQUIRED")
    batch = client.post("/v1/events/batch", headers=nurse, json={"events": [
        _hold(coi, TEN_DAYS_AGO, backfill_reason="late entry"), resumed]})
    assert batch.status_code == 201, batch.text
    first, second = batch.json()["results"]
    assert [e["seq"] for e in first["events"]] == [2, 3] and [e["seq"] for e in second["events"]] == [4]
    types = [e["type"] for e in _stream(client, first["stream"])]
    assert types == ["CaseEnrolled", "CaseOnHold", Backfilled.__name__, "CaseResumed"]


def _commission(coi: str, when: str, **ours) -> bytes:
    event = {"type": "ObjectEvent", "eventTime": when, "eventTimeZoneOffset": "+00:00", "action": "ADD",
             "epcList": ["urn:epc:id:sgtin:0614141.812345.4242"], "bizStep": "commissioning",
             "ilmd": {"coi:kind": "apheresis_bag", "coi:coi": coi}, **ours}
    return json.dumps({"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                       "epcisBody": {"eventList": [event]}}).encode()


def test_epcis_capture_with_an_old_event_time_follows_the_same_rule(client, login):
    mes = {**login("integrator"), "Content-Type": "application/json"}  # bound to the case's hospital
    coi = _enrol(client, login("integrator"), "MRN-BACKFILL-6")
    old = (datetime.now(UTC) - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    _problem(client.post("/v1/epcis/capture", headers=mes, content=_commission(coi, old)),
             422, "BACKFILL_REASON_REQUIRED")
    captured = client.post("/v1/epcis/capture", headers=mes,
                           content=_commission(coi, old, **{"coi:backfillReason": "LIMS outage"}))
    assert captured.status_code == 201, captured.text
    [event] = captured.json()["events"]
    assert event["status"] == "applied", event
    unit = UUID(event["applied"][0]["unit_id"])
    labelled, backfilled = _stream(client, str(unit))[:2]
    assert labelled["type"] == "UnitLabelled" and backfilled["type"] == Backfilled.__name__
    assert backfilled["data"]["reason"] == "LIMS outage"


def test_a_retried_backfill_is_recorded_once(client, login):
    nurse = {**login("nurse"), "Idempotency-Key": "paper-batch-7"}
    coi = _enrol(client, login("nurse"), "MRN-BACKFILL-7")
    body = _hold(coi, TEN_DAYS_AGO, backfill_reason="late entry")
    first = client.post("/v1/events", headers=nurse, json=body)
    again = client.post("/v1/events", headers=nurse, json=body)
    assert first.status_code == 201 and again.status_code in (200, 201), again.text
    assert again.json()["events"] == first.json()["events"] and again.json()["replayed"] is True
    types = [e["type"] for e in _stream(client, first.json()["stream"])]
    assert types == ["CaseEnrolled", "CaseOnHold", Backfilled.__name__]
