"""Issue 13: corrections are governed. Over HTTP, an ``EventCorrected`` may not touch identity,
role or security records nor an e-signed event (409 ``NOT_CORRECTABLE``), and only a role that
may record the corrected type may correct it (403 ``FORBIDDEN``); nothing is appended. The
right person still corrects a typo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.services.journeys import DEMO_PASSWORD
from ledger.streams import user_stream

from .test_journey_http import MRN, Api, iso


@pytest.fixture
def api(client, login) -> Api:
    return Api(client, login)


def _correct(api: Api, user: str, stream, event_id: str, expect: int = 201, code: str | None = None, **changes):
    return api.event(user, "EventCorrected", {"event_id": event_id, "reason": "transcription error",
                                              "changes": changes}, stream=str(stream), expect=expect, code=code)


def _last(client) -> int:
    return client.app.state.container.ledger.last_position()


@pytest.fixture
def unit(api):
    """A bag labelled by the nurse (operator) with a spec, and a failed QC recorded on it."""
    coi = api.event("nurse", "CaseEnrolled", {"kind": "autologous", "product": "CAR-T",
                                              "treating_site": "hospital-1", "mrn": MRN})["answer"]["coi"]
    spec = {"min_celsius": 2, "max_celsius": 8, "expiry": iso(datetime.now(UTC) + timedelta(days=3))}
    labelled = api.event("nurse", "UnitLabelled", {"kind": "apheresis_bag", "spec": spec,
                                                   "identifiers": {"lot": "LOT-17"}}, coi=coi)
    unit_id = labelled["answer"]["unit_id"]
    qc = api.event("nurse", "QCResultRecorded", {"test": "sterility", "result": "fail", "value": 12.5},
                   unit_id=unit_id)
    return {"coi": coi, "unit": unit_id, "labelled": labelled["event_id"], "qc": qc["event_id"]}


def test_nobody_corrects_identity_or_role_records(api, client, login):
    for user in ("clinician", "qa", "nurse", "courier", "integrator"):
        stream = user_stream(user)
        created = client.app.state.container.services.reads().envelopes(stream)[0]
        assert created["type"] == "UserCreated"
        before = _last(client)
        _correct(api, user, stream, str(created["event_id"]), expect=409, code="NOT_CORRECTABLE",
                 roles=["admin"])
        _correct(api, user, stream, str(created["event_id"]), expect=409, code="NOT_CORRECTABLE",
                 printed_name="Someone Else")
        assert _last(client) == before
    assert client.app.state.container.services.reads().user("clinician").roles == ("clinician",)
    signing_key = next(e for e in client.app.state.container.services.reads().envelopes(user_stream("qa"))
                       if e["type"] == "UserSigningKeyIssued")
    _correct(api, "qa", user_stream("qa"), str(signing_key["event_id"]), expect=409, code="NOT_CORRECTABLE",
             public_key=signing_key["data"]["public_key"][::-1])


def test_a_courier_changes_neither_a_qc_result_nor_a_units_expiry_or_spec(api, client, login, unit):
    before = _last(client)
    _correct(api, "courier", unit["unit"], unit["qc"], expect=403, code="FORBIDDEN", result="pass")
    far = {"min_celsius": -100, "max_celsius": 100, "expiry": "2099-01-01T00:00:00Z"}
    _correct(api, "courier", unit["unit"], unit["labelled"], expect=403, code="FORBIDDEN", spec=far)
    _correct(api, "clinician", unit["unit"], unit["qc"], expect=403, code="FORBIDDEN", result="pass")
    assert _last(client) == before
    # the auditor reads every case; the demo QA is bound to the factory, which this unit never reached
    shown = client.get(f"/v1/units/{unit['unit']}", headers=login("auditor")).json()
    assert [q["result"] for q in shown["qc"]] == ["fail"]


def test_an_e_signed_event_is_not_corrected(api, client, unit, hospital_qa):
    body = {"type": "AuditTrailReviewed", "coi": unit["coi"], "data": {"through_position": _last(client)},
            "esign": {"user_id": hospital_qa, "password": DEMO_PASSWORD, "meaning": "reviewed"}}
    reviewed = client.post("/v1/events", headers=api.login(hospital_qa), json=body)
    assert reviewed.status_code == 201, reviewed.text
    before = _last(client)
    _correct(api, hospital_qa, reviewed.json()["stream"], reviewed.json()["event_id"], expect=409,
             code="NOT_CORRECTABLE", comment="reviewed nothing")
    assert _last(client) == before


@pytest.mark.req("URS-P11-10e")
def test_the_right_person_corrects_a_typo_or_a_qc_result(api, client, login, unit, hospital_qa):
    fixed = _correct(api, "nurse", unit["unit"], unit["labelled"], identifiers={"lot": "LOT-71"})
    value = _correct(api, "nurse", unit["unit"], unit["qc"], value=21.5)
    result = _correct(api, "nurse", unit["unit"], unit["qc"], result="pass")
    assert fixed["stream"] == result["stream"] == unit["unit"]
    for correction in (fixed, value, result):  # GMP-critical facts: they apply once QA approves them
        done = api.event(hospital_qa, "CorrectionApproved", {"correction_event_id": correction["event_id"]},
                         stream=unit["unit"], sign="approved")
    shown = client.get(f"/v1/units/{unit['unit']}", headers=login(hospital_qa),
                       params={"min_position": done["position"]}).json()
    assert shown["identifiers"] == {"lot": "LOT-71"}
    assert [q["result"] for q in shown["qc"]] == ["pass"]
    trail = client.get("/v1/audit-trail", headers=login(hospital_qa),
                       params={"coi": unit["coi"], "type": "EventCorrected", "min_position": done["position"]})
    assert [r["actor"] for r in trail.json()["items"]] == ["nurse", "nurse", "nurse"]
    assert "value: 12.5 -> 21.5" in trail.json()["items"][1]["what"]
