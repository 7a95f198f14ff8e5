"""Tokens over HTTP: people sign in (short, refreshable within a session limit), long-lived tokens
only for devices and integrator accounts, every issue of one and every revocation an event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from ledger.services.journeys import DEMO_PASSWORD
from ledger.timefmt import format_utc
from ledger_cli.main import app as cli_app

from .conftest import PASSPHRASE


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(client, user: str) -> dict:
    response = client.post("/v1/auth/token", data={"username": user, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()


def audit(client, login, type_: str) -> list[dict]:
    client.app.state.container.catch_up()
    response = client.get("/v1/audit-trail", headers=login("auditor"), params={"type": type_})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_an_admin_cannot_mint_a_long_lived_token_for_a_person(client, login):
    admin = login("admin")
    for person in ("qa", "clinician", "nurse", "admin"):
        refused = client.post("/v1/tokens", headers=admin, json={"user": person})
        assert refused.status_code == 403 and refused.json()["code"] == "PERSON_TOKEN_REFUSED", refused.text
        ten_years = client.post("/v1/tokens", headers=admin, json={"user": person, "days": 3650})
        assert ten_years.status_code == 422 and ten_years.json()["code"] == "TOKEN_LIFETIME_TOO_LONG"
    assert audit(client, login, "TokenIssued") == []
    assert [t for t in client.get("/v1/tokens", headers=admin).json() if t["kind"] != "user"] == []


def test_an_integrator_gets_a_long_lived_token_capped_and_recorded(client, login):
    admin = login("admin")
    too_long = client.post("/v1/tokens", headers=admin, json={"user": "integrator", "days": 3650})
    assert too_long.status_code == 422 and too_long.json()["code"] == "TOKEN_LIFETIME_TOO_LONG"
    issued = client.post("/v1/tokens", headers=admin, json={"user": "integrator", "days": 30, "label": "MES"})
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["kind"] == "integrator" and body["token_id"].startswith("tok-")
    assert client.get("/v1/cases", headers=bearer(body["access_token"])).status_code == 200
    [event] = audit(client, login, "TokenIssued")
    assert event["actor"] == "admin" and body["token_id"] in event["what"]
    listed = client.get("/v1/tokens", headers=admin, params={"principal": "integrator"}).json()
    [row] = [t for t in listed if t["token_id"] == body["token_id"]]
    assert row["label"] == "MES" and row["revoked_at"] is None and row["kind"] == "integrator"
    assert body["access_token"] not in str(listed)
    # given a person's role, the account's long-lived token stops working
    assert client.post("/v1/users/integrator/roles", headers=admin,
                       json={"roles": ["integrator", "qa"]}).status_code == 201
    assert client.get("/v1/cases", headers=bearer(body["access_token"])).json()["code"] == "INVALID_TOKEN"


@pytest.mark.req("URS-P11-300c")
def test_a_revoked_token_is_refused_at_once_and_the_revocation_is_recorded(client, login):
    admin = login("admin")
    issued = client.post("/v1/tokens", headers=admin, json={"user": "integrator", "days": 30}).json()
    token_id = issued["token_id"]
    revoked = client.post(f"/v1/tokens/{token_id}/revoke", headers=admin, json={"reason": "rotated"})
    assert revoked.status_code == 201, revoked.text
    answer = client.get("/v1/cases", headers=bearer(issued["access_token"]))
    assert answer.status_code == 401 and answer.json()["code"] == "INVALID_TOKEN"
    again = client.post(f"/v1/tokens/{token_id}/revoke", headers=admin, json={"reason": "rotated"})
    assert again.status_code == 409 and again.json()["code"] == "TOKEN_REVOKED"
    unknown = client.post("/v1/tokens/tok-0000000000000000/revoke", headers=admin, json={"reason": "x"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "TOKEN_NOT_FOUND"
    [event] = audit(client, login, "TokenRevoked")
    assert token_id in event["what"] and event["actor"] == "admin"
    listed = client.get("/v1/tokens", headers=admin, params={"principal": "integrator", "ended": True}).json()
    assert next(t for t in listed if t["token_id"] == token_id)["revoked_at"] is not None


def test_a_person_revokes_their_own_token_but_not_anothers(client, login):
    mine = sign_in(client, "nurse")["access_token"]
    other = sign_in(client, "qa")["access_token"]
    own = client.get("/v1/tokens", headers=bearer(mine)).json()
    assert own and {t["principal"] for t in own} == {"nurse"}
    assert client.get("/v1/tokens", headers=bearer(mine), params={"principal": "qa"}).status_code == 403
    qa_token = client.get("/v1/tokens", headers=bearer(other)).json()[0]["token_id"]
    forbidden = client.post(f"/v1/tokens/{qa_token}/revoke", headers=bearer(mine), json={"reason": "x"})
    assert forbidden.status_code == 403
    assert client.get("/v1/cases", headers=bearer(other)).status_code == 200
    [token] = own
    assert client.post(f"/v1/tokens/{token['token_id']}/revoke", headers=bearer(mine),
                       json={"reason": "signed out"}).status_code == 201
    assert client.get("/v1/cases", headers=bearer(mine)).status_code == 401


def test_sign_in_then_refresh_within_the_session_limit(client, settings):
    signed_in = sign_in(client, "nurse")
    assert signed_in["expires_in"] == settings.token_minutes * 60
    old = signed_in["access_token"]
    refreshed = client.post("/v1/auth/refresh", headers=bearer(old))
    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()["access_token"]
    assert new != old and refreshed.json()["user_id"] == "nurse"
    assert client.get("/v1/cases", headers=bearer(new)).status_code == 200
    assert client.get("/v1/cases", headers=bearer(old)).status_code == 401  # the old one is revoked
    assert client.post("/v1/auth/refresh", headers=bearer(old)).status_code == 401  # refreshed once
    # The session began more than LEDGER_SESSION_MAX_HOURS ago: no refresh beyond it.
    began = format_utc(datetime.now(UTC) - timedelta(hours=settings.session_max_hours, minutes=1))
    with client.app.state.container.engine.begin() as conn:
        conn.execute(text("UPDATE access_tokens SET session_started_at = :t WHERE principal = 'nurse'"), {"t": began})
    ended = client.post("/v1/auth/refresh", headers=bearer(new))
    assert ended.status_code == 401 and ended.json()["code"] == "SESSION_EXPIRED"
    # A session ending sooner than a token's lifetime caps the refreshed token's expiry.
    near = format_utc(datetime.now(UTC) - timedelta(hours=settings.session_max_hours) + timedelta(minutes=10))
    with client.app.state.container.engine.begin() as conn:
        conn.execute(text("UPDATE access_tokens SET session_started_at = :t WHERE principal = 'nurse'"), {"t": near})
    capped = client.post("/v1/auth/refresh", headers=bearer(new))
    assert capped.status_code == 200 and capped.json()["expires_in"] <= 600


def test_a_device_token_is_not_refreshed_and_is_revoked_by_api(client, login):
    admin = login("admin")
    assert client.post("/v1/devices", headers=admin, json={"device_id": "scanner-7", "kind": "scanner",
                                                           "site": "hospital-1"}).status_code == 201
    issued = client.post("/v1/tokens", headers=admin, json={"device": "scanner-7", "days": 7}).json()
    device = bearer(issued["access_token"])
    assert client.get("/v1/tokens", headers=device).json()[0]["kind"] == "device"
    refused = client.post("/v1/auth/refresh", headers=device)
    assert refused.status_code == 403 and refused.json()["code"] == "NOT_REFRESHABLE"
    assert client.post(f"/v1/tokens/{issued['token_id']}/revoke", headers=admin,
                       json={"reason": "lost"}).status_code == 201
    assert client.get("/v1/tokens", headers=device).status_code == 401
    assert [e["type"] for e in audit(client, login, "TokenRevoked")] == ["TokenRevoked"]


def test_a_device_token_is_listed_and_revoked_by_the_cli(client, login, settings, monkeypatch):
    admin = login("admin")
    assert client.post("/v1/devices", headers=admin, json={"device_id": "logger-7", "kind": "logger",
                                                           "site": "hospital-1"}).status_code == 201
    issued = client.post("/v1/tokens", headers=admin, json={"device": "logger-7", "days": 7,
                                                            "label": "cold room"}).json()
    device = bearer(issued["access_token"])
    assert client.get("/v1/tokens", headers=device).status_code == 200
    for name, value in {"LEDGER_DATABASE_URL": settings.database_url, "LEDGER_KEYS_DIR": str(settings.keys_dir),
                        "LEDGER_KEY_PASSPHRASE": PASSPHRASE, "LEDGER_ENV": "test",
                        "LEDGER_SITE_SECRET": settings.site_secret.get_secret_value(),
                        "LEDGER_TOKEN_SECRET": settings.token_secret.get_secret_value(),
                        "LEDGER_CLI_USER": "admin", "LEDGER_CLI_PASSWORD": DEMO_PASSWORD}.items():
        monkeypatch.setenv(name, value)
    cli = CliRunner()
    listed = cli.invoke(cli_app, ["tokens", "list", "--principal", "logger-7"])
    assert listed.exit_code == 0, listed.output
    assert issued["token_id"] in listed.output and "cold room" in listed.output
    assert issued["access_token"] not in listed.output
    missing = cli.invoke(cli_app, ["tokens", "revoke", "tok-0000000000000000", "--reason", "lost"])
    assert missing.exit_code == 1 and "TOKEN_NOT_FOUND" in missing.output
    revoked = cli.invoke(cli_app, ["tokens", "revoke", issued["token_id"], "--reason", "stolen"])
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/v1/tokens", headers=device).status_code == 401
    [event] = audit(client, login, "TokenRevoked")
    assert event["actor"] == "admin" and issued["token_id"] in event["what"]  # the person, not `system`
