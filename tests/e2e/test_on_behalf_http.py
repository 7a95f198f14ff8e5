"""``on_behalf`` names the person an integrator or device acts for, and the portal prints "for
<them>": it is accepted only with that person's own Part 11 signature in the same request,
and only for an active user."""

from __future__ import annotations

from uuid import UUID

import pytest

from ledger.services.journeys import DEMO_PASSWORD
from tests.support import last_record_by_people

from .test_journey_http import MRN


@pytest.fixture
def coi(client, login) -> str:
    response = client.post("/v1/cases", headers=login("nurse"), json={
        "kind": "autologous", "product": "CAR-T", "treating_site": "hospital-1", "mrn": MRN})
    assert response.status_code == 201, response.text
    return response.json()["answer"]["coi"]


def _label(client, login, coi: str, **extra):
    return client.post("/v1/events", headers=login("integrator"), json={
        "type": "UnitLabelled", "coi": coi, "site": "hospital-1", "data": {"kind": "apheresis_bag"}, **extra})


def _refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code, response.text


def _positions(client) -> int:
    return last_record_by_people(client.app.state.container.ledger)


@pytest.mark.req("URS-P11-200")
def test_on_behalf_without_that_persons_signature_is_refused(client, login, coi):
    before = _positions(client)
    _refused(_label(client, login, coi, on_behalf="clinician"), 403, "ON_BEHALF_UNSIGNED")
    # the integrator's own signature does not let it name someone else
    _refused(_label(client, login, coi, on_behalf="clinician", esign={
        "user_id": "integrator", "password": DEMO_PASSWORD, "meaning": "authored"}), 403, "ON_BEHALF_UNSIGNED")
    _refused(client.post("/v1/events/batch", headers=login("integrator"), json={"events": [
        {"type": "UnitLabelled", "coi": coi, "site": "hospital-1", "data": {"kind": "apheresis_bag"},
         "on_behalf": "nurse"}]}), 403, "ON_BEHALF_UNSIGNED")
    assert _positions(client) == before


def test_on_behalf_an_unknown_or_deactivated_user_is_refused(client, login, coi):
    deactivated = client.post("/v1/users/courier/deactivate", headers=login("admin"), json={"reason": "left"})
    assert deactivated.status_code == 201, deactivated.text
    before = _positions(client)
    for who in ("nobody-such", "courier"):
        _refused(_label(client, login, coi, on_behalf=who, esign={
            "user_id": who, "password": DEMO_PASSWORD, "meaning": "authored"}), 422, "ON_BEHALF_UNKNOWN")
    assert _positions(client) == before


@pytest.mark.req("URS-ALCOA-ATTR")
def test_on_behalf_with_that_persons_own_signature_is_recorded(client, login, coi):
    response = _label(client, login, coi, on_behalf="nurse", esign={
        "user_id": "nurse", "password": DEMO_PASSWORD, "meaning": "authored"})
    assert response.status_code == 201, response.text
    envelope = next(e.envelope for e in client.app.state.container.ledger.read_stream(
        UUID(response.json()["stream"])) if str(e.envelope["event_id"]) == response.json()["event_id"])
    assert envelope["actor"] == "integrator" and envelope["on_behalf"] == "nurse"
    assert envelope["esign"]["signer"] == "nurse" and envelope["esign"]["meaning"] == "authored"
    # a wrong password for the person acted for is a failed signature, recorded as such
    _refused(_label(client, login, coi, on_behalf="nurse", esign={
        "user_id": "nurse", "password": "not the password", "meaning": "authored"}), 401, "INVALID_CREDENTIALS")
    # without on_behalf the integrator still writes as itself
    assert _label(client, login, coi).status_code == 201
