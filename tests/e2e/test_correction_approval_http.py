"""Corrections of GMP-critical facts (a QC result, a spec or expiry) take effect only once a second
person of QA approves them with an e-signature: until then no decision (release) and no read model
uses them, and the exceptions list shows them pending. A rejected one never applies. A typo in a
free-text reason still applies at once. Real HTTP, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from ledger.domain.folding import corrections_of
from ledger.services.executor import Context
from ledger.services.journeys import DEMO_PASSWORD

from .test_journey_http import MRN, Api, iso

QA2, QA2_PASSWORD = "qa2", "second-qa-password-1"


@pytest.fixture
def api(client, login) -> Api:
    created = client.post("/v1/users", headers=login("admin"), json={
        "user_id": QA2, "printed_name": "Quinn Second", "roles": ["qa"], "sites": ["factory-1"],
        "password": QA2_PASSWORD})
    assert created.status_code == 201, created.text
    client.app.state.container.services.qualification.qualify(Context(actor="system"), user_id=QA2)
    token = client.post("/v1/auth/token", data={"username": QA2, "password": QA2_PASSWORD})
    assert token.status_code == 200, token.text
    api = Api(client, login)
    api.login = lambda user: ({"Authorization": f"Bearer {token.json()['access_token']}"} if user == QA2
                              else login(user))
    return api


@pytest.fixture
def product(api):
    """A final product bag (sterility required) whose sterility test FAILED."""
    coi = api.event("nurse", "CaseEnrolled", {"kind": "autologous", "product": "CAR-T",
                                              "treating_site": "hospital-1", "mrn": MRN})["answer"]["coi"]
    spec = {"min_celsius": 2, "max_celsius": 8, "expiry": iso(datetime.now(UTC) + timedelta(days=3)),
            "qc_required": ["sterility"]}
    labelled = api.event("nurse", "UnitLabelled", {"kind": "final_product_bag", "spec": spec}, coi=coi)
    unit = labelled["answer"]["unit_id"]
    qc = api.event("nurse", "QCResultRecorded", {"test": "sterility", "result": "fail"}, unit_id=unit)
    # shipped to the factory, so that the factory's QA may read and act on it (site scope)
    api.event("nurse", "ShipmentDispatched", {"carrier": "c", "tracking": "t", "from_site": "hospital-1",
                                              "to_site": "factory-1"}, unit_id=unit)
    return {"coi": coi, "unit": unit, "labelled": labelled["event_id"], "qc": qc["event_id"], "spec": spec}


def correct(api: Api, user: str, product, event_id: str, **changes):
    return api.event(user, "EventCorrected", {"event_id": event_id, "reason": "transcription error",
                                              "changes": changes}, stream=product["unit"])


def review(api: Api, user: str, product, correction: str, *, approve=True, sign: str | None = "approved",
           expect=201, code=None):
    password = QA2_PASSWORD if user == QA2 else DEMO_PASSWORD
    if approve:
        return api.event(user, "CorrectionApproved", {"correction_event_id": correction, "comment": "raw data checked"},
                         stream=product["unit"], sign=sign, password=password, expect=expect, code=code)
    return api.event(user, "CorrectionRejected", {"correction_event_id": correction, "reason": "no evidence"},
                     stream=product["unit"], sign=sign, password=password, expect=expect, code=code)


def release(api: Api, product, expect=201, code=None):
    return api.event("qa", "ProductReleased", {"notes": "lot release"}, unit_id=product["unit"], sign="released",
                     expect=expect, code=code)


def unit_view(api: Api, product) -> dict:
    """The unit's current state (folded from its stream at the read)."""
    shown = api.client.get(f"/v1/units/{product['unit']}", headers=api.login("qa"))
    assert shown.status_code == 200, shown.text
    return shown.json()


def exceptions(api: Api, product, position: int) -> dict[str, str]:
    """The correction exceptions of the case: opening event id -> (kind, state)."""
    answer = api.client.get("/v1/exceptions", headers=api.login("qa"),
                            params={"coi": product["coi"], "state": "all", "min_position": position})
    assert answer.status_code == 200, answer.text
    return {item["event_ids"][0]: (item["kind"], item["state"]) for item in answer.json()
            if item["kind"] in ("correction_pending", "event_corrected")}


@pytest.mark.req("URS-P11-10e", "URS-A11-9", "URS-A11-14")
def test_a_qc_result_corrected_fail_to_pass_applies_only_after_another_qa_approves_it_signed(api, product):
    fix = correct(api, "nurse", product, product["qc"], result="pass")
    release(api, product, expect=409, code="QC_FAILED")
    assert [q["result"] for q in unit_view(api, product)["qc"]] == ["fail"]
    assert exceptions(api, product, fix["position"]) == {fix["event_id"]: ("correction_pending", "open")}

    review(api, "qa", product, fix["event_id"], sign=None, expect=409, code="ESIGNATURE_REQUIRED")
    review(api, "nurse", product, fix["event_id"], expect=403, code="FORBIDDEN")  # not QA
    review(api, "qa", product, fix["event_id"], sign="released", expect=422, code="WRONG_SIGNATURE_MEANING")
    release(api, product, expect=409, code="QC_FAILED")

    approved = review(api, "qa", product, fix["event_id"])
    stored = api.client.app.state.container.services.reads().envelopes(UUID(approved["stream"]))[-1]
    assert stored["type"] == "CorrectionApproved" and stored["esign"]["meaning"] == "approved"
    assert [q["result"] for q in unit_view(api, product)["qc"]] == ["pass"]
    assert exceptions(api, product, approved["position"]) == {fix["event_id"]: ("correction_pending", "dispositioned")}
    review(api, QA2, product, fix["event_id"], expect=409, code="CORRECTION_NOT_PENDING")
    # the failed result stays an open exception until QA dispositions it (a transcription error: no impact)
    release(api, product, expect=409, code="EXCEPTION_OPEN")
    assert "qc_failed" in {x.split(":")[0] for x in api.disposition(product["coi"])}
    api.sign_off(product["coi"])
    release(api, product)


@pytest.mark.req("URS-P11-10g")
def test_the_qa_who_corrected_may_not_approve_it_another_may(api, product):
    fix = correct(api, "qa", product, product["qc"], result="pass")
    review(api, "qa", product, fix["event_id"], expect=409, code="CORRECTION_SELF_APPROVAL")
    release(api, product, expect=409, code="QC_FAILED")
    review(api, QA2, product, fix["event_id"])
    api.disposition(product["coi"])
    api.sign_off(product["coi"])
    release(api, product)


def test_a_rejected_correction_never_applies(api, product):
    fix = correct(api, "nurse", product, product["qc"], result="pass")
    review(api, "qa", product, fix["event_id"], approve=False, sign=None, expect=409, code="ESIGNATURE_REQUIRED")
    rejected = review(api, "qa", product, fix["event_id"], approve=False, sign="reviewed")
    assert exceptions(api, product, rejected["position"]) == {fix["event_id"]: ("correction_pending", "dispositioned")}
    review(api, QA2, product, fix["event_id"], expect=409, code="CORRECTION_NOT_PENDING")
    assert [q["result"] for q in unit_view(api, product)["qc"]] == ["fail"]
    release(api, product, expect=409, code="QC_FAILED")


@pytest.mark.req("URS-TMP-1")
def test_a_widened_expiry_and_temperature_range_are_pending_until_approved(api, client, product):
    wide = {**product["spec"], "min_celsius": -50, "max_celsius": 40, "expiry": "2099-01-01T00:00:00Z"}
    fix = correct(api, "nurse", product, product["labelled"], spec=wide)

    def limits(position: int) -> tuple:
        shown = unit_view(api, product)
        conditions = client.get(f"/v1/units/{product['unit']}/conditions", headers=api.login("qa"),
                                params={"min_position": position}).json()
        return shown["spec"]["expiry"][:4], conditions["spec"]["min_celsius"], conditions["spec"]["max_celsius"]

    assert limits(fix["position"]) == (product["spec"]["expiry"][:4], 2, 8)
    approved = review(api, QA2, product, fix["event_id"])
    assert limits(approved["position"]) == ("2099", -50, 40)


def test_a_typo_in_a_reason_applies_at_once(api, client, product):
    held = api.event("qa", "UnitQuarantined", {"reason": "excursoin"}, unit_id=product["unit"])
    fix = api.event("qa", "EventCorrected", {"event_id": held["event_id"], "reason": "spelling",
                                             "changes": {"reason": "excursion"}}, stream=product["unit"])
    envelopes = client.app.state.container.services.reads().envelopes(UUID(held["stream"]))
    assert corrections_of(envelopes) == {held["event_id"]: {"reason": "excursion"}}
    assert exceptions(api, product, fix["position"]) == {fix["event_id"]: ("event_corrected", "open")}
    review(api, QA2, product, fix["event_id"], expect=409, code="CORRECTION_NOT_PENDING")
