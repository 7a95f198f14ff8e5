"""Issue 13 (authority), bad input: control characters and reserved ids are refused with a
problem before anything is sealed, and the read models keep applying afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.services.journeys import DEMO_USERS

ADMIN = next(user for user, (_, roles, _) in DEMO_USERS.items() if "admin" in roles)


def _enrol(client, headers, mrn: str) -> str:
    body = {"kind": "autologous", "product": "CAR-T", "treating_site": "hospital-1", "mrn": mrn}
    response = client.post("/v1/cases", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()["answer"]["coi"]


def _refused(response, code: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.text


def test_a_nul_in_a_reason_is_refused_and_the_read_models_keep_applying(client, login):
    nurse = login("nurse")
    coi = _enrol(client, nurse, "MRN-NUL-1")
    before = client.get("/v1/ledger/info", headers=nurse).json()
    for data, extra in (({"reason": "held\x00"}, {}), ({"reason": "carriage\rreturn"}, {}),
                        ({"reason": "next line\x85"}, {}), ({"reason": "ok", "note\x00": "x"}, {}),
                        ({"reason": "ok"}, {"site": "hospital-1\x00"}),
                        ({"reason": "ok"}, {"on_behalf": "nurse\x1b"})):
        _refused(client.post("/v1/events", headers=nurse,
                             json={"type": "CaseOnHold", "coi": coi, "data": data, **extra}),
                 "CONTROL_CHARACTER")
    _refused(client.post("/v1/cases", headers=nurse, json={
        "kind": "autologous", "product": "CAR-T\x00", "treating_site": "hospital-1", "mrn": "MRN-NUL-2"}),
        "CONTROL_CHARACTER")
    assert client.get("/v1/ledger/info", headers=nurse).json() == before  # nothing was written

    held = client.post("/v1/events", headers=nurse, json={
        "type": "CaseOnHold", "coi": coi, "data": {"reason": "two lines\n\tare fine"}})
    assert held.status_code == 201, held.text
    assert client.app.state.container.wait_for(held.json()["position"], timeout=5)
    assert client.get(f"/v1/cases/{coi}", headers=nurse).json()["status"] == "on_hold"


@pytest.mark.parametrize("path", [
    "/v1/cases?status=%00", "/v1/cases?treating_site=a%01b", "/v1/cases?product=%7F",
    "/v1/audit-trail?actor=%00", "/v1/cases/COI%00", "/v1/epcis/events?coi=%00",
])
def test_a_control_character_in_a_query_or_path_parameter_is_a_422(client, login, path):
    _refused(client.get(path, headers=login(ADMIN)), "CONTROL_CHARACTER")


@pytest.mark.parametrize("user_id", ["system", "System"])
@pytest.mark.req("URS-P11-100")
def test_an_admin_cannot_create_a_user_the_ledger_itself_acts_as(client, login, user_id):
    created = client.post("/v1/users", headers=login(ADMIN), json={
        "user_id": user_id, "printed_name": "Not the ledger", "roles": ["admin"],
        "password": "a long enough passphrase 42"})
    _refused(created, "RESERVED_ID")


@pytest.mark.req("URS-A11-5", "URS-ALCOA-CONT")
def test_occurred_at_is_kept_to_a_window_around_the_server_time(client, login):
    nurse = login("nurse")
    coi = _enrol(client, nurse, "MRN-WINDOW-1")
    now = datetime.now(UTC)
    for when in ("1900-01-01T00:00:00Z", "9999-12-31T23:59:59Z", now - timedelta(days=366),
                 now + timedelta(minutes=30)):
        stamp = when if isinstance(when, str) else when.isoformat()
        late = {"occurred_at": stamp, "backfill_reason": "paper record"}  # a permitted backfill, too old
        for path, body in (("/v1/units", {"coi": coi, "kind": "apheresis_bag", **late}),
                           ("/v1/events", {"type": "CaseOnHold", "coi": coi, "data": {"reason": "late entry"},
                                           **late})):
            _refused(client.post(path, headers=nurse, json=body), "OCCURRED_AT_OUT_OF_WINDOW")
    backdated = client.post("/v1/units", headers=nurse, json={
        "coi": coi, "kind": "apheresis_bag", "occurred_at": (now - timedelta(days=30)).isoformat(),
        "backfill_reason": "paper record"})
    assert backdated.status_code == 201, backdated.text
