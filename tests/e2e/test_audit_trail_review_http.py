"""AuditTrailReviewed (EU GMP Annex 11 §9, 21 CFR 11.10(e)) end to end over HTTP: QA's e-signed
review of a case's audit trail up to a log position, refused without the signature, with
another meaning, by another role, beyond the ledger's position or for an unknown case; the
audit trail shows it with its signature manifestation; the case state keeps the last review."""

from __future__ import annotations

import pytest

from ledger.domain.events_case import AuditTrailReviewed, CaseEnrolled
from ledger.services.journeys import DEMO_PASSWORD
from ledger.streams import case_stream

from .conftest import HOSPITAL_QA as QA

REVIEWED = AuditTrailReviewed.__name__


def _enrol(client, login) -> dict:
    response = client.post("/v1/events", headers=login("nurse"), json={
        "type": CaseEnrolled.__name__, "data": {"kind": "autologous", "product": "CAR-T",
                                               "treating_site": "hospital-1", "mrn": "MRN-R-1"}})
    assert response.status_code == 201, response.text
    return response.json()


def _review(client, login, coi, position, *, user=QA, meaning: str | None = "reviewed", **data):
    body = {"type": REVIEWED, "coi": coi, "data": {"through_position": position, **data}}
    if meaning:
        body["esign"] = {"user_id": user, "password": DEMO_PASSWORD, "meaning": meaning}
    return client.post("/v1/events", headers=login(user), json=body)


def _refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.json()


@pytest.mark.req("URS-P11-50")
def test_a_signed_review_is_recorded_shown_in_the_trail_and_kept_by_the_case(client, login, hospital_qa):
    enrolled = _enrol(client, login)
    coi, position = enrolled["answer"]["coi"], enrolled["position"]

    reviewed = _review(client, login, coi, position, comment="no findings")
    assert reviewed.status_code == 201, reviewed.text
    assert reviewed.json()["stream"] == str(case_stream(coi))

    trail = client.get("/v1/audit-trail", headers=login("auditor"), params={
        "coi": coi, "type": REVIEWED, "min_position": reviewed.json()["position"]})
    assert trail.status_code == 200, trail.text
    [row] = trail.json()["items"]
    assert row["what"] == f"audit trail reviewed through position {position}: no findings"
    assert row["actor"] == QA and row["coi"] == coi
    signature = row["signature"]
    assert (signature["signer"], signature["meaning"]) == (QA, "reviewed")
    assert signature["printed_name"] == "Hana Hospital-QA" and signature["signed_at"]

    case = client.app.state.container.services.reads().case(case_stream(coi))
    assert case.last_review is not None
    assert (case.last_review.through_position, case.last_review.by) == (position, QA)
    assert case.last_review.at == reviewed.json()["recorded_at"]


@pytest.mark.req("URS-P11-200")
def test_a_review_is_refused_unsigned_wrongly_signed_by_another_role_or_beyond_the_log(client, login, hospital_qa):
    enrolled = _enrol(client, login)
    coi, position = enrolled["answer"]["coi"], enrolled["position"]

    _refused(_review(client, login, coi, position, meaning=None), 409, "ESIGNATURE_REQUIRED")
    _refused(_review(client, login, coi, position, meaning="approved"), 422, "WRONG_SIGNATURE_MEANING")
    _refused(_review(client, login, coi, position, user="clinician"), 403, "FORBIDDEN")
    _refused(_review(client, login, coi, position + 1000), 422, "INVALID_DATA")
    _refused(_review(client, login, coi, 0), 422, "VALIDATION_FAILED")
    _refused(_review(client, login, "COI-ZSKP-JBH7-H", position), 409, "CASE_NOT_FOUND")

    trail = client.get("/v1/audit-trail", headers=login("auditor"), params={"coi": coi, "type": REVIEWED})
    assert trail.json()["items"] == []
    assert client.app.state.container.services.reads().case(case_stream(coi)).last_review is None
