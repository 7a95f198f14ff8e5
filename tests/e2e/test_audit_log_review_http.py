"""AuditLogReviewed (EU GMP Annex 11 §9, 21 CFR 11.10(e)) end to end over HTTP: QA bound to no site
e-signs a review of the whole audit trail over a range of log positions; it is in the trail.
Refused unsigned, beyond the log, past a gap, by a site-bound QA (the whole log spans every site)
and by a role other than QA; a refused review appends nothing."""

from __future__ import annotations

import pytest

from ledger.domain.events_ledger import AuditLogReviewed
from ledger.services.executor import Context
from ledger.services.journeys import DEMO_PASSWORD
from ledger.streams import ledger_stream

REVIEWED = AuditLogReviewed.__name__
GLOBAL_QA = "qa-global"


@pytest.fixture
def global_qa(client) -> str:
    client.app.state.container.services.identity.create_user(
        Context(actor="system"), user_id=GLOBAL_QA, printed_name="Gil Global-QA", roles=["qa"], sites=[],
        password=DEMO_PASSWORD)
    client.app.state.container.services.qualification.qualify(Context(actor="system"), user_id=GLOBAL_QA)
    return GLOBAL_QA


def _review(client, login, first, last, *, user=GLOBAL_QA, meaning: str | None = "reviewed", **data):
    body = {"type": REVIEWED, "data": {"from_position": first, "through_position": last, **data}}
    if meaning:
        body["esign"] = {"user_id": user, "password": DEMO_PASSWORD, "meaning": meaning}
    headers = login(user)  # signing in appends events: before the caller reads the log's position
    return client.post("/v1/events", headers=headers, json=body)


def _refused(client, response, status: int, code: str, before: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.json()
    reviews = client.app.state.container.ledger.read_stream(ledger_stream("log-reviews"))
    assert len(list(reviews)) == before


@pytest.mark.req("URS-A11-9")
def test_a_global_qa_reviews_the_whole_log_and_the_review_is_in_the_trail(client, login, global_qa):
    login(GLOBAL_QA)
    last = client.app.state.container.ledger.last_position()
    reviewed = _review(client, login, 1, last, comment="no findings")
    assert reviewed.status_code == 201, reviewed.text
    assert reviewed.json()["stream"] == str(ledger_stream("log-reviews"))

    trail = client.get("/v1/audit-trail", headers=login("auditor"), params={
        "type": REVIEWED, "min_position": reviewed.json()["position"]})
    assert trail.status_code == 200, trail.text
    [row] = trail.json()["items"]
    assert row["what"] == f"whole audit trail reviewed, positions 1 to {last}: no findings"
    assert row["actor"] == GLOBAL_QA
    assert (row["signature"]["signer"], row["signature"]["meaning"]) == (GLOBAL_QA, "reviewed")

    # the next review continues where this one ended, or overlaps it; it may not skip positions
    enrolled = client.post("/v1/events", headers=login("nurse"), json={
        "type": "CaseEnrolled", "data": {"kind": "autologous", "product": "CAR-T", "treating_site": "hospital-1",
                                         "mrn": "MRN-L-1"}})
    assert enrolled.status_code == 201, enrolled.text
    now = client.app.state.container.ledger.last_position()
    _refused(client, _review(client, login, last + 2, now), 409, "REVIEW_GAP", 1)
    again = _review(client, login, last + 1, now)
    assert again.status_code == 201, again.text
    overlap = _review(client, login, 1, now)
    assert overlap.status_code == 201, overlap.text


@pytest.mark.req("URS-A11-9")
def test_a_review_is_refused_unsigned_beyond_the_log_site_bound_or_by_another_role(client, login, global_qa,
                                                                                   hospital_qa):
    for user in (GLOBAL_QA, hospital_qa, "courier", "auditor"):
        login(user)
    last = client.app.state.container.ledger.last_position()
    _refused(client, _review(client, login, 1, last, meaning=None), 409, "ESIGNATURE_REQUIRED", 0)
    _refused(client, _review(client, login, 1, last, meaning="approved"), 422, "WRONG_SIGNATURE_MEANING", 0)
    _refused(client, _review(client, login, 1, last + 1000), 422, "INVALID_DATA", 0)
    _refused(client, _review(client, login, 5, 4), 422, "INVALID_DATA", 0)
    _refused(client, _review(client, login, 1, last, user=hospital_qa), 403, "SITE_FORBIDDEN", 0)
    _refused(client, _review(client, login, 1, last, user="qa"), 403, "SITE_FORBIDDEN", 0)  # the demo's factory QA
    _refused(client, _review(client, login, 1, last, user="courier"), 403, "FORBIDDEN", 0)
    _refused(client, _review(client, login, 1, last, user="auditor"), 403, "FORBIDDEN", 0)

    trail = client.get("/v1/audit-trail", headers=login("auditor"), params={"type": REVIEWED})
    assert trail.json()["items"] == []
