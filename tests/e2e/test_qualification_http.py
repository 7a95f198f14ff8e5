"""21 CFR 11.10(i), 11.100(b), 11.100(c) over HTTP: a person e-signs only once an administrator has
verified their identity, they have acknowledged the signature policy (proving their password) and
their role's qualification is current. Each gate refuses, then allows once its record exists; the
records are in the audit trail; no document number is taken; only admin (identity) and admin or
QA (training) record them, never for themselves."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.domain.events_case import AuditTrailReviewed, CaseEnrolled
from ledger.domain.events_qualification import IdentityVerified, SignaturePolicyAcknowledged, TrainingRecorded
from ledger.domain.qualification import PART11_ESIGN, SIGNATURE_POLICY_SHA256, SIGNATURE_POLICY_VERSION
from ledger.services.journeys import DEMO_PASSWORD
from ledger.timefmt import utc_now

NEW_QA = "qa-newcomer"


def _refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.json()


def _create_newcomer(client, login) -> None:
    created = client.post("/v1/users", headers=login("admin"), json={
        "user_id": NEW_QA, "printed_name": "Nora Newcomer", "roles": ["qa"], "sites": ["hospital-1"],
        "password": DEMO_PASSWORD})
    assert created.status_code == 201, created.text


def _enrolled_case(client, login) -> tuple[str, int]:
    response = client.post("/v1/events", headers=login("nurse"), json={
        "type": CaseEnrolled.__name__, "data": {"kind": "autologous", "product": "CAR-T",
                                               "treating_site": "hospital-1", "mrn": "MRN-Q-1"}})
    assert response.status_code == 201, response.text
    return response.json()["answer"]["coi"], response.json()["position"]


def _review(client, login, coi: str, position: int):
    return client.post("/v1/events", headers=login(NEW_QA), json={
        "type": AuditTrailReviewed.__name__, "coi": coi, "data": {"through_position": position},
        "esign": {"user_id": NEW_QA, "password": DEMO_PASSWORD, "meaning": "reviewed"}})


def _training(completed: timedelta, expires: timedelta | None = None) -> dict:
    today = utc_now().date()
    return {"curriculum": PART11_ESIGN, "version": "3", "completed_on": (today - completed).isoformat(),
            "trainer": "Tom Trainer", "expires_on": None if expires is None else (today + expires).isoformat()}


def _acknowledgement(password: str = DEMO_PASSWORD, text_sha256: str = SIGNATURE_POLICY_SHA256) -> dict:
    return {"password": password, "policy_version": SIGNATURE_POLICY_VERSION, "text_sha256": text_sha256}


@pytest.mark.req("URS-P11-10i", "URS-P11-10j", "URS-P11-100b")
def test_each_gate_refuses_an_esignature_until_its_record_exists(client, login):
    _create_newcomer(client, login)
    coi, position = _enrolled_case(client, login)
    admin = login("admin")

    # an untrained role is refused at the write itself (api.authority), before any signature
    _refused(_review(client, login, coi, position), 403, "TRAINING_REQUIRED")
    expired = client.post(f"/v1/users/{NEW_QA}/training", headers=admin,
                          json=_training(timedelta(days=400), expires=timedelta(days=0)))
    assert expired.status_code == 201, expired.text
    _refused(_review(client, login, coi, position), 403, "TRAINING_REQUIRED")
    current = client.post(f"/v1/users/{NEW_QA}/training", headers=admin,
                          json=_training(timedelta(days=1), expires=timedelta(days=365)))
    assert current.status_code == 201, current.text

    _refused(_review(client, login, coi, position), 403, "IDENTITY_NOT_VERIFIED")
    verified = client.post(f"/v1/users/{NEW_QA}/identity-verification", headers=admin,
                           json={"document_type": "passport"})
    assert verified.status_code == 201, verified.text

    _refused(_review(client, login, coi, position), 403, "SIGNATURE_POLICY_NOT_ACKNOWLEDGED")
    policy = client.get("/v1/auth/signature-policy", headers=login(NEW_QA)).json()
    assert policy["text_sha256"] == SIGNATURE_POLICY_SHA256 and "handwritten signature" in policy["text"]
    acknowledge = "/v1/auth/acknowledge-signature-policy"
    _refused(client.post(acknowledge, headers=login(NEW_QA), json=_acknowledgement(password="not-my-password")),
             401, "INVALID_CREDENTIALS")
    refused = client.post(acknowledge, headers=login(NEW_QA), json=_acknowledgement(text_sha256="0" * 64))
    assert refused.status_code in (409, 422) and refused.json()["code"] == "SIGNATURE_POLICY_MISMATCH"
    acknowledged = client.post(acknowledge, headers=login(NEW_QA), json=_acknowledgement())
    assert acknowledged.status_code == 201, acknowledged.text

    signed = _review(client, login, coi, position)
    assert signed.status_code == 201, signed.text

    trail = client.get("/v1/audit-trail", headers=login("auditor"),
                       params={"actor": "admin", "min_position": signed.json()["position"]})
    assert trail.status_code == 200, trail.text
    what = [row["what"] for row in trail.json()["items"]]
    assert f"identity of {NEW_QA} verified by admin (passport)" in what
    assert sum(w.startswith(f"training {PART11_ESIGN} v3 completed by {NEW_QA}") for w in what) == 2
    mine = client.get("/v1/audit-trail", headers=login("auditor"),
                      params={"type": SignaturePolicyAcknowledged.__name__}).json()["items"]
    assert [row["actor"] for row in mine if row["what"].startswith(NEW_QA)] == [NEW_QA]


def test_the_demo_people_are_seeded_fit_to_sign(client, login):
    """Identity verified for each, training only for the roles of LEDGER_REQUIRED_TRAINING: the
    records are in the audit trail."""
    seeded = client.app.state.container.ledger.last_position()
    rows = client.get("/v1/audit-trail", headers=login("auditor"),
                      params={"type": TrainingRecorded.__name__, "min_position": seeded}).json()["items"]
    trained = {row["what"].split(" completed by ")[1].split(" ")[0] for row in rows}
    assert {"qa", "clinician", "nurse", "tech"} <= trained
    assert "courier" not in trained and "auditor" not in trained
    verified = client.get("/v1/audit-trail", headers=login("auditor"),
                          params={"type": IdentityVerified.__name__, "min_position": seeded}).json()["items"]
    assert len(verified) == 9  # every demo person, the program manager too; the integrator account never signs


@pytest.mark.req("URS-P11-100b")
def test_no_document_number_is_taken(client, login):
    _create_newcomer(client, login)
    _refused(client.post(f"/v1/users/{NEW_QA}/identity-verification", headers=login("admin"),
                         json={"document_type": "passport", "document_number": "X1234567"}), 422, "VALIDATION_FAILED")
    assert "document_number" not in IdentityVerified.model_fields
    assert not any("number" in field for field in IdentityVerified.model_fields)


@pytest.mark.req("URS-P11-10i")
def test_an_untrained_operator_may_not_write_until_trained(client, login):
    created = client.post("/v1/users", headers=login("admin"), json={
        "user_id": "new-nurse", "printed_name": "Nell New", "roles": ["operator"], "sites": ["hospital-1"],
        "password": DEMO_PASSWORD})
    assert created.status_code == 201, created.text
    enrol = {"type": CaseEnrolled.__name__, "data": {"kind": "autologous", "product": "CAR-T",
                                                     "treating_site": "hospital-1", "mrn": "MRN-Q-2"}}
    _refused(client.post("/v1/events", headers=login("new-nurse"), json=enrol), 403, "TRAINING_REQUIRED")
    trained = client.post("/v1/users/new-nurse/training", headers=login("admin"), json=_training(timedelta(days=1)))
    assert trained.status_code == 201, trained.text
    assert client.post("/v1/events", headers=login("new-nurse"), json=enrol).status_code == 201


@pytest.mark.req("URS-P11-10i", "URS-P11-100b")
def test_only_admin_verifies_identity_and_only_admin_or_qa_records_training(client, login):
    _create_newcomer(client, login)
    for user in ("nurse", "auditor", "qa", "clinician"):
        _refused(client.post(f"/v1/users/{NEW_QA}/identity-verification", headers=login(user),
                             json={"document_type": "passport"}), 403, "FORBIDDEN")
    for user in ("nurse", "auditor", "clinician", "courier"):
        _refused(client.post(f"/v1/users/{NEW_QA}/training", headers=login(user),
                             json=_training(timedelta(days=1))), 403, "FORBIDDEN")
    by_qa = client.post("/v1/users/clinician/training", headers=login("qa"), json=_training(timedelta(days=1)))
    assert by_qa.status_code == 403 and by_qa.json()["code"] == "SITE_FORBIDDEN"  # factory QA, hospital user
    own = client.post("/v1/users/qa/training", headers=login("qa"), json=_training(timedelta(days=1)))
    assert own.status_code in (409, 422) and own.json()["code"] == "SELF_TRAINING", own.text
    for trainer, trainee in (("admin", NEW_QA), ("qa", "tech")):  # tech works at qa's factory
        recorded = client.post(f"/v1/users/{trainee}/training", headers=login(trainer),
                               json=_training(timedelta(days=1)))
        assert recorded.status_code == 201, recorded.text
