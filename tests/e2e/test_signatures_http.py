"""Second signatures over real HTTP (SQLite and PostgreSQL): ``POST /v1/signatures`` approves a
pending correction (the existing ``CorrectionApproved`` command) or witnesses a labelling or an
infusion (``StepWitnessed``), with every Part 11 rule of the existing signatures; ``GET
/v1/signatures/pending`` lists what the caller may sign, in scope; a step not witnessed in time
is a COI-critical ``witness_missing`` exception."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.services.executor import Context
from ledger.services.journeys import DEMO_PASSWORD, seed_identities
from ledger.streams import user_stream

from ..support import sign_off_review
from .test_journey_http import MRN, Api, iso

H2 = "hospital-2"


def post(api: Api, user: str, type_: str, data: dict, *, sign: str | None = None, occurred_at: str | None = None,
         expect: int = 201, code: str | None = None, **target) -> dict:
    """An event at the server's time (``api.event`` posts in the past)."""
    body = {"type": type_, "data": data, **target}
    if occurred_at:
        body["occurred_at"] = occurred_at
    if sign:
        body["esign"] = {"user_id": user, "password": DEMO_PASSWORD, "meaning": sign}
    response = api.client.post("/v1/events", headers=api.login(user), json=body)
    assert response.status_code == expect, response.text
    if code:
        assert response.json()["code"] == code, response.json()
    return response.json()


def sign(api: Api, user: str, pending_id: str, meaning: str = "reviewed", *, password: str = DEMO_PASSWORD,
         expect: int = 201, code: str | None = None, comment: str | None = "wristband and bag read aloud") -> dict:
    response = api.client.post("/v1/signatures", headers=api.login(user), json={
        "pending_id": pending_id, "user_id": user, "password": password, "meaning": meaning, "comment": comment})
    assert response.status_code == expect, response.text
    if code:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == code, response.json()
    return response.json()


def pending(api: Api, user: str, position: int | None = None, **params) -> list[dict]:
    answer = api.client.get("/v1/signatures/pending", headers=api.login(user),
                            params={**params, **({"min_position": position} if position else {})})
    assert answer.status_code == 200, answer.text
    return answer.json()


def people(client) -> None:
    """Besides the demo's nurse (operator) and clinician of hospital-1: a second clinician there, a
    clinician of hospital-2, and a clinician of hospital-1 without the training to sign."""
    services, system = client.app.state.container.services, Context(actor="system")
    services.identity.register_site(system, site_id=H2, name="Second Hospital", kind="hospital")
    for user, site, qualified in (("clin2", "hospital-1", True), ("clin-h2", H2, True),
                                  ("clin-new", "hospital-1", False)):
        services.identity.create_user(system, user_id=user, printed_name=f"Dr. {user}", roles=["clinician"],
                                      sites=[site], password=DEMO_PASSWORD)
        if qualified:
            services.qualification.qualify(system, user_id=user)


@pytest.fixture
def api(client, login, hospital_qa) -> Api:
    people(client)
    return Api(client, login)


def released(api: Api, kind: str = "final_product_bag") -> dict:
    """A released final product of a new hospital-1 case, held by the clinician."""
    coi = api.event("nurse", "CaseEnrolled", {"kind": "autologous", "product": "CAR-T", "treating_site": "hospital-1",
                                              "mrn": MRN})["answer"]["coi"]
    spec = {"min_celsius": 2, "max_celsius": 8, "expiry": iso(datetime.now(UTC) + timedelta(days=3))}
    labelled = api.event("nurse", "UnitLabelled", {"kind": kind, "spec": spec}, coi=coi)
    unit = labelled["answer"]["unit_id"]
    api.event("nurse", "QCResultRecorded", {"test": "sterility", "result": "pass"}, unit_id=unit)
    sign_off_review(api.client, api.login("hospital-qa"), coi, user="hospital-qa")
    api.event("hospital-qa", "ProductReleased", {"notes": "ok"}, unit_id=unit, sign="released")
    api.event("nurse", "CustodyTransferred", {"to_party": "clinician"}, unit_id=unit)
    api.event("clinician", "CustodyAcknowledged", {}, unit_id=unit)
    return {"coi": coi, "unit": unit, "labelled": labelled}


def infuse(api: Api, product: dict, *, occurred_at: str | None = None) -> dict:
    return post(api, "clinician", "ProductInfused", {"coi": product["coi"], "wristband": MRN,
                                                     "bag_coi": product["coi"]},
                unit_id=product["unit"], sign="administered", occurred_at=occurred_at)


def stored(api: Api, receipt: dict) -> dict:
    return next(e for e in api.client.app.state.container.services.reads().envelopes(UUID(receipt["stream"]))
                if e["event_id"] == receipt["event_id"])


def exceptions(api: Api, coi: str, position: int) -> dict[str, dict]:
    answer = api.client.get("/v1/exceptions", headers=api.login("hospital-qa"),
                            params={"coi": coi, "state": "all", "min_position": position})
    assert answer.status_code == 200, answer.text
    return {item["exception_id"]: item for item in answer.json()}


@pytest.mark.req("URS-P11-10g")
def test_a_second_person_witnesses_the_bedside_check_with_their_e_signature(api):
    product = released(api)
    infused = infuse(api, product)
    due = stored(api, infused)["data"]["witness_due"]
    assert datetime.fromisoformat(due) - datetime.now(UTC) > timedelta(minutes=29)  # LEDGER_WITNESS_MINUTES

    listed = pending(api, "nurse", infused["position"])
    assert [(p["pending_id"], p["kind"], p["meaning"], p["step_type"], p["due_at"]) for p in listed] == [
        (infused["event_id"], "witness", "reviewed", "ProductInfused", due)]
    assert pending(api, "clinician") == []  # their own step
    assert pending(api, "clin-h2") == []  # another hospital's
    assert pending(api, "qa") == []  # QA does not witness

    witnessed = sign(api, "nurse", infused["event_id"])
    record = stored(api, witnessed)
    assert record["type"] == "StepWitnessed" and record["stream"] == infused["stream"]
    assert record["data"] == {"witnessed_event_id": infused["event_id"], "step": "infusion",
                              "comment": "wristband and bag read aloud"}
    assert record["actor"] == "nurse" and record["esign"]["signer"] == "nurse"
    assert record["esign"]["meaning"] == "reviewed" and record["esign"]["printed_name"] == "Nina Nurse"
    assert pending(api, "clin2", witnessed["position"]) == []
    sign(api, "clin2", infused["event_id"], expect=409, code="ALREADY_WITNESSED")
    assert f"witness_missing:{infused['event_id']}" not in exceptions(api, product["coi"], witnessed["position"])

    trail = api.client.get("/v1/audit-trail", headers=api.login("hospital-qa"), params={
        "coi": product["coi"], "type": "StepWitnessed", "min_position": witnessed["position"]})
    assert trail.status_code == 200, trail.text
    assert [(row["signature"]["signer"], row["signature"]["printed_name"], row["signature"]["meaning"])
            for row in trail.json()["items"]] == [("nurse", "Nina Nurse", "reviewed")]


def test_who_may_not_witness(api, client):
    product = released(api)
    infused = infuse(api, product)
    step = infused["event_id"]
    position = client.app.state.container.ledger.last_position
    before = position()
    sign(api, "clinician", step, expect=409, code="SELF_WITNESS")  # the actor and signer
    sign(api, "clin-h2", step, expect=403, code="SITE_FORBIDDEN")  # another hospital's clinician
    sign(api, "courier", step, expect=403, code="FORBIDDEN")  # a role that does not witness
    sign(api, "qa", step, expect=403, code="FORBIDDEN")
    sign(api, "clin-new", step, expect=403, code="TRAINING_REQUIRED")  # not qualified to sign
    sign(api, "clin2", step, "approved", expect=422, code="WRONG_SIGNATURE_MEANING")
    sign(api, "clin2", str(uuid4()), expect=404, code="PENDING_NOT_FOUND")
    sign(api, "clin2", product["labelled"]["event_id"], expect=404, code="PENDING_NOT_FOUND")  # due no witness
    assert position() == before  # nothing recorded by any refusal
    # a wrong password is a failed sign-in (AccessDenied recorded, counted by the throttle)
    sign(api, "clin2", step, password="not-the-password-at-all", expect=401, code="INVALID_CREDENTIALS")
    assert position() == before + 1
    assert client.app.state.container.services.reads().envelopes(user_stream("clin2"))[-1]["type"] == "AccessDenied"
    sign(api, "clin2", step)  # another clinician of the ward may


def test_a_step_not_witnessed_in_time_is_a_coi_critical_exception(api):
    product = released(api)
    infused = infuse(api, product, occurred_at=iso(datetime.now(UTC) - timedelta(minutes=40)))
    assert pending(api, "nurse", infused["position"]) == []  # past due: nothing to sign
    sign(api, "nurse", infused["event_id"], expect=409, code="WITNESS_LATE")
    found = exceptions(api, product["coi"], infused["position"])
    missing = found[f"witness_missing:{infused['event_id']}"]
    assert missing["severity"] == "coi_critical" and missing["state"] == "open" and not missing["cleared"]
    assert missing["due_at"] == stored(api, infused)["data"]["witness_due"]

    on_time = released(api)
    infused = infuse(api, on_time)  # due in 30 minutes: a candidate, not yet an exception
    assert f"witness_missing:{infused['event_id']}" not in exceptions(api, on_time["coi"], infused["position"])


@pytest.fixture
def product_with_pending_corrections(api):
    """Two final products of one case with a failed sterility test each, both corrected to pass
    by the nurse: GMP-critical corrections awaiting QA's approval."""
    coi = api.event("nurse", "CaseEnrolled", {"kind": "autologous", "product": "CAR-T", "treating_site": "hospital-1",
                                              "mrn": MRN})["answer"]["coi"]
    spec = {"expiry": iso(datetime.now(UTC) + timedelta(days=3)), "qc_required": ["sterility"]}
    out = []
    for _ in range(2):
        labelled = api.event("nurse", "UnitLabelled", {"kind": "final_product_bag", "spec": spec}, coi=coi)
        unit = labelled["answer"]["unit_id"]
        qc = api.event("nurse", "QCResultRecorded", {"test": "sterility", "result": "fail"}, unit_id=unit)
        fix = api.event("nurse", "EventCorrected", {"event_id": qc["event_id"], "reason": "transcription error",
                                                    "changes": {"result": "pass"}}, stream=unit)
        out.append({"coi": coi, "unit": unit, "fix": fix})
    return out


@pytest.mark.req("URS-P11-10g")
def test_a_correction_approved_through_signatures_is_the_dedicated_command(api, product_with_pending_corrections):
    first, second = product_with_pending_corrections
    listed = pending(api, "hospital-qa", second["fix"]["position"], kind="correction")
    assert {p["pending_id"] for p in listed} == {first["fix"]["event_id"], second["fix"]["event_id"]}
    assert all(p["meaning"] == "approved" and p["event_type"] == "CorrectionApproved" for p in listed)
    assert pending(api, "nurse", kind="correction") == []  # not QA (and the corrector)

    sign(api, "hospital-qa", first["fix"]["event_id"], "reviewed", expect=422, code="WRONG_SIGNATURE_MEANING")
    sign(api, "clinician", first["fix"]["event_id"], "approved", expect=403, code="FORBIDDEN")
    by_route = post(api, "hospital-qa", "CorrectionApproved", {"correction_event_id": first["fix"]["event_id"],
                                                                "comment": "raw data checked"},
                    stream=first["unit"], sign="approved")
    by_signature = sign(api, "hospital-qa", second["fix"]["event_id"], "approved", comment="raw data checked")
    a, b = stored(api, by_route), stored(api, by_signature)
    assert (a["type"], a["actor"], a["esign"]["meaning"]) == (b["type"], b["actor"], b["esign"]["meaning"])
    assert {k: v for k, v in a["data"].items() if not k.endswith("event_id")} == \
        {k: v for k, v in b["data"].items() if not k.endswith("event_id")}
    assert b["data"]["correction_event_id"] == second["fix"]["event_id"] and b["stream"] == second["unit"]
    for product in (first, second):
        unit = api.client.get(f"/v1/units/{product['unit']}", headers=api.login("hospital-qa")).json()
        assert [q["result"] for q in unit["qc"]] == ["pass"]
    found = exceptions(api, first["coi"], by_signature["position"])
    assert {found[f"correction_pending:{p['fix']['event_id']}"]["state"] for p in (first, second)} == {"dispositioned"}
    sign(api, "hospital-qa", second["fix"]["event_id"], "approved", expect=409, code="CORRECTION_NOT_PENDING")
    assert pending(api, "hospital-qa", by_signature["position"], kind="correction") == []


def test_the_corrector_may_not_approve_their_own_through_signatures(api):
    coi = api.event("nurse", "CaseEnrolled", {"kind": "autologous", "product": "CAR-T", "treating_site": "hospital-1",
                                              "mrn": MRN})["answer"]["coi"]
    unit = api.event("nurse", "UnitLabelled", {"kind": "final_product_bag"}, coi=coi)["answer"]["unit_id"]
    qc = api.event("nurse", "QCResultRecorded", {"test": "sterility", "result": "fail"}, unit_id=unit)
    fix = api.event("hospital-qa", "EventCorrected", {"event_id": qc["event_id"], "reason": "typo",
                                                      "changes": {"result": "pass"}}, stream=unit)
    assert pending(api, "hospital-qa", fix["position"]) == []  # never offered their own
    sign(api, "hospital-qa", fix["event_id"], "approved", expect=409, code="CORRECTION_SELF_APPROVAL")


@pytest.fixture
def configured(settings):
    """A service with other witness settings: ``configured(steps)``."""
    clients = []

    def start(steps: str) -> Api:
        app = create_app(settings.model_copy(update={"witness_steps": steps}))
        client = TestClient(app, raise_server_exceptions=False).__enter__()
        clients.append(client)
        seed_identities(client.app.state.container.services)
        people(client)
        tokens: dict[str, dict] = {}

        def login(user: str) -> dict:
            if user not in tokens:
                answer = client.post("/v1/auth/token", data={"username": user, "password": DEMO_PASSWORD})
                assert answer.status_code == 200, answer.text
                tokens[user] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
            return tokens[user]

        services = client.app.state.container.services
        services.identity.create_user(Context(actor="system"), user_id="hospital-qa", printed_name="Hana QA",
                                      roles=["qa"], sites=["hospital-1"], password=DEMO_PASSWORD)
        services.qualification.qualify(Context(actor="system"), user_id="hospital-qa")
        return Api(client, login)

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def test_with_the_setting_off_nothing_awaits_a_witness(configured):
    api = configured("")
    product = released(api)
    infused = infuse(api, product)
    assert stored(api, infused)["data"]["witness_due"] is None
    assert pending(api, "nurse", infused["position"]) == []
    sign(api, "nurse", infused["event_id"], expect=404, code="PENDING_NOT_FOUND")


def test_labelling_is_witnessed_when_the_setting_names_it(configured):
    api = configured("labelling,infusion")
    coi = post(api, "nurse", "CaseEnrolled", {"kind": "autologous", "product": "CAR-T", "treating_site": "hospital-1",
                                              "mrn": MRN})["answer"]["coi"]
    labelled = post(api, "nurse", "UnitLabelled", {"kind": "apheresis_bag"}, coi=coi)
    assert stored(api, labelled)["data"]["witness_due"] is not None
    assert [p["step_type"] for p in pending(api, "clin2", labelled["position"])] == ["UnitLabelled"]
    sign(api, "nurse", labelled["event_id"], expect=409, code="SELF_WITNESS")
    witnessed = sign(api, "clin2", labelled["event_id"])
    assert stored(api, witnessed)["data"]["step"] == "labelling"
