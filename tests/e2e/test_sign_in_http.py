"""Sign-in hardening over real HTTP, on SQLite and PostgreSQL: throttling instead of lock-out, one
answer and one hash verification for every failure, unlock, the password policy, change and reset."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from ledger.domain.base import new_event
from ledger.domain.events_registry import PasswordSet, UserLocked
from ledger.errors import Forbidden
from ledger.services.executor import Context
from ledger.services.journeys import DEMO_PASSWORD, seed_identities
from ledger.settings import Settings
from ledger.streams import user_stream
from ledger_cli.main import app as cli

TOKEN = "/v1/auth/token"
NEW_PASSWORD = "violet kettle on the 9th floor"


def sign_in(client, user: str, password: str = DEMO_PASSWORD):
    return client.post(TOKEN, data={"username": user, "password": password})


def bearer(response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def from_address(client: TestClient, address: str) -> TestClient:
    """Another caller of the same running app (its lifespan is the first client's)."""
    return TestClient(client.app, raise_server_exceptions=False, client=(address, 40000))


def types_in(client, user: str) -> list[str]:
    return [e.type for e in client.app.state.container.services.ledger.read_stream(user_stream(user))]


def record(client, *events) -> None:
    identity = client.app.state.container.services.identity
    identity.command(Context(actor="system"), lambda reads, now, actor: list(events))


@pytest.fixture
def account_limits() -> str:
    """An hour's window: longer than any test, however slow the machine (a 2 s window moved on mid-test)."""
    return "5/hour"


@pytest.fixture
def quick(settings, account_limits):
    return settings.model_copy(update={"sign_in_account_limits": account_limits,
                                       "sign_in_client_limits": "12/hour"})


EXPIRING = pytest.mark.parametrize("account_limits", ["5 per 4 seconds"])  # a back-off the test waits out


@pytest.fixture
def client(quick):
    with TestClient(create_app(quick), raise_server_exceptions=False, client=("198.51.100.1", 40000)) as c:
        seed_identities(c.app.state.container.services)
        yield c


@pytest.mark.req("URS-P11-300d", "URS-A11-12")
@EXPIRING
def test_failures_back_off_and_expire_without_locking_the_user_or_ending_sessions(client):
    user = from_address(client, "203.0.113.7")
    session = bearer(sign_in(user, "courier"))
    failures = [sign_in(client, "courier", f"wrong guess {i}") for i in range(5)]
    assert {r.status_code for r in failures} == {401}
    throttled = sign_in(client, "courier", "wrong guess 6")
    assert throttled.status_code == 429 and throttled.json()["code"] == "TOO_MANY_ATTEMPTS"
    assert throttled.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(throttled.headers["Retry-After"]) <= 4
    assert user.get("/v1/cases", headers=session).status_code == 200  # the live session goes on
    assert sign_in(user, "courier").status_code == 429  # the account backs off, for everyone ...
    time.sleep(int(throttled.headers["Retry-After"]) + 0.2)
    assert sign_in(user, "courier").status_code == 200  # ... and the back-off ends by itself
    assert "UserLocked" not in types_in(client, "courier") and types_in(client, "courier").count("AccessDenied") == 5


def test_a_client_that_fails_too_often_is_throttled_whatever_ids_it_tries(client):
    for i in range(12):
        assert sign_in(client, f"nobody-{i}", "wrong guess").status_code == 401
    assert sign_in(client, "qa").status_code == 429  # this client, even with the right password
    assert sign_in(from_address(client, "203.0.113.8"), "qa").status_code == 200


def test_unknown_wrong_locked_and_deactivated_get_one_answer_for_one_hash_verification(client, login, monkeypatch):
    admin = login("admin")
    assert client.post("/v1/users/tech/deactivate", headers=admin, json={"reason": "left"}).status_code == 201
    record(client, new_event(user_stream("auditor"), UserLocked, user="auditor", attempts=5, reason="legacy lock"))
    verifications: list[str] = []
    real_verify = PasswordHasher.verify

    def counting_verify(self, stored, password):
        verifications.append(stored[:9])
        return real_verify(self, stored, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    answers = {}
    for case, (user, password) in {"unknown": ("no-such-user", DEMO_PASSWORD), "wrong": ("qa", "wrong password 1"),
                                   "locked": ("auditor", DEMO_PASSWORD),
                                   "deactivated": ("tech", DEMO_PASSWORD)}.items():
        before = len(verifications)
        response = sign_in(client, user, password)
        assert len(verifications) == before + 1, case  # the same work, an argon2id hash each time
        answers[case] = (response.status_code, response.json(), response.headers.get("WWW-Authenticate"))
    assert set(verifications) == {"$argon2id"}
    assert len({repr(a) for a in answers.values()}) == 1, answers
    assert answers["unknown"][0] == 401 and answers["unknown"][1]["code"] == "INVALID_CREDENTIALS"
    assert [types_in(client, u)[-1] for u in ("qa", "auditor", "tech")] == ["AccessDenied"] * 3


def test_unlock_by_the_api_ends_the_back_off_at_once(client, login):
    admin = login("admin")
    for i in range(6):
        sign_in(client, "courier", f"wrong guess {i}")
    assert sign_in(from_address(client, "203.0.113.9"), "courier").status_code == 429
    assert client.post("/v1/users/courier/unlock", headers=admin, json={"reason": "  "}).json()["code"] == \
        "REASON_REQUIRED"
    unlocked = client.post("/v1/users/courier/unlock", headers=admin, json={"reason": "caller verified"})
    assert unlocked.status_code == 201, unlocked.text
    assert sign_in(from_address(client, "203.0.113.9"), "courier").status_code == 200
    assert client.post("/v1/users/courier/unlock", headers=login("qa"), json={"reason": "r"}).status_code == 403
    assert types_in(client, "courier")[-1] == "UserUnlocked"


def cli_env(monkeypatch, settings) -> None:
    for name, value in {"LEDGER_ENV": "test", "LEDGER_DATABASE_URL": settings.database_url,
                        "LEDGER_KEYS_DIR": str(settings.keys_dir),
                        "LEDGER_KEY_PASSPHRASE": settings.key_passphrase.get_secret_value(),
                        "LEDGER_SITE_SECRET": settings.site_secret.get_secret_value(),
                        "LEDGER_TOKEN_SECRET": settings.token_secret.get_secret_value(),
                        "LEDGER_INSECURE_FAST_HASHING": "true"}.items():
        monkeypatch.setenv(name, value)


def test_unlock_and_reset_from_the_cli_are_events_the_running_service_honours(client, quick, monkeypatch):
    cli_env(monkeypatch, quick)
    for i in range(6):
        sign_in(client, "courier", f"wrong guess {i}")
    other = from_address(client, "203.0.113.10")
    assert sign_in(other, "courier").status_code == 429
    result = CliRunner().invoke(cli, ["--as", "admin", "users", "unlock", "courier", "--reason", "caller verified"],
                                input=f"{DEMO_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert sign_in(other, "courier").status_code == 200  # the service's own memory:// counts: a new key
    monkeypatch.setenv("LEDGER_CLI_USER", "admin")
    monkeypatch.setenv("LEDGER_CLI_PASSWORD", DEMO_PASSWORD)
    weak = CliRunner().invoke(cli, ["users", "reset-password", "qa", "--reason", "forgotten"],
                              input="password1234\npassword1234\n")
    assert weak.exit_code == 1 and "WEAK_PASSWORD" in weak.output
    reset = CliRunner().invoke(cli, ["users", "reset-password", "qa", "--reason", "forgotten"],
                               input="lilac tugboat 27 temp\nlilac tugboat 27 temp\n")
    assert reset.exit_code == 0, reset.output
    signed_in = sign_in(other, "qa", "lilac tugboat 27 temp")
    assert signed_in.status_code == 200 and signed_in.json()["password_change_required"] is True
    assert types_in(client, "courier")[-1] == "UserUnlocked" and "PasswordReset" in types_in(client, "qa")


@pytest.mark.parametrize(("password", "reason"), [(" " * 12, "whitespace"), ("password1234", "guess"),
                                                  ("new-nurse-2-password", "user id")])
@pytest.mark.req("URS-P11-300a")
def test_weak_passwords_are_refused_with_the_reason(client, login, password, reason):
    body = {"user_id": "new-nurse-2", "printed_name": "New Nurse", "roles": ["clinician"], "password": password}
    refused = client.post("/v1/users", headers=login("admin"), json=body)
    assert refused.status_code == 422 and refused.json()["code"] == "WEAK_PASSWORD", refused.text
    assert reason in refused.json()["detail"]
    assert "UserCreated" not in types_in(client, "new-nurse-2")
    created = client.post("/v1/users", headers=login("admin"), json={**body, "password": NEW_PASSWORD})
    assert created.status_code == 201, created.text
    assert sign_in(client, "new-nurse-2", NEW_PASSWORD).status_code == 200


def test_reset_gives_a_token_that_may_only_change_the_password_then_a_full_one(client, login):
    old_session = login("qa")
    reset = client.post("/v1/users/qa/password", headers=login("admin"),
                        json={"password": "lilac tugboat 27 temp", "reason": "forgotten"})
    assert reset.status_code == 201, reset.text
    assert client.get("/v1/cases", headers=old_session).status_code == 401  # the reset ends its sessions
    assert sign_in(client, "qa").status_code == 401  # the old password is gone
    signed_in = sign_in(client, "qa", "lilac tugboat 27 temp")
    assert signed_in.json()["password_change_required"] is True
    temporary = bearer(signed_in)
    identity = client.app.state.container.services.identity
    with pytest.raises(Forbidden) as no_signature:  # the admin knows a temporary password: no e-signature with it
        identity.signoff(user_id="qa", password="lilac tugboat 27 temp", meaning="reviewed")
    assert no_signature.value.code == "PASSWORD_CHANGE_REQUIRED"
    for method, path in (("GET", "/v1/cases"), ("GET", "/v1/audit-trail"), ("POST", "/v1/sites")):
        refused = client.request(method, path, headers=temporary, json={})
        assert refused.status_code == 403 and refused.json()["code"] == "PASSWORD_CHANGE_REQUIRED", path
    change = {"current_password": "lilac tugboat 27 temp", "new_password": "password1234"}
    weak = client.post("/v1/auth/password", headers=temporary, json=change)
    assert weak.status_code == 422 and weak.json()["code"] == "WEAK_PASSWORD"
    wrong = client.post("/v1/auth/password", headers=temporary, json={**change, "current_password": "not it at all"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "INVALID_CREDENTIALS"
    changed = client.post("/v1/auth/password", headers=temporary, json={**change, "new_password": NEW_PASSWORD})
    assert changed.status_code == 201, changed.text
    assert client.get("/v1/cases", headers=temporary).status_code == 200
    full = sign_in(client, "qa", NEW_PASSWORD)
    assert full.status_code == 200 and full.json()["password_change_required"] is False
    assert sign_in(client, "qa", "lilac tugboat 27 temp").status_code == 401
    identity.signoff(user_id="qa", password=NEW_PASSWORD, meaning="reviewed")  # the key opens with the new one
    trail = client.app.state.container.services.ledger.read_stream(user_stream("qa"))
    changes = [e for e in trail if e.type in ("PasswordReset", "PasswordChanged")]
    assert [e.type for e in changes] == ["PasswordReset", "PasswordChanged"]
    assert not any(secret in str(e.envelope) for e in changes for secret in ("lilac tugboat", NEW_PASSWORD))


def test_anyone_signed_in_changes_their_own_password_and_nobody_elses(client, login):
    change = {"current_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD}
    assert client.post("/v1/auth/password", json=change).status_code == 401
    assert client.post("/v1/auth/password", headers=login("courier"), json=change).status_code == 201
    assert sign_in(client, "courier", NEW_PASSWORD).status_code == 200
    assert sign_in(client, "qa").status_code == 200  # only the caller's password changed


@pytest.mark.req("URS-P11-300a")
def test_an_expired_password_leads_to_a_change_not_a_lock_out(client):
    past = datetime.now(UTC) - timedelta(days=1)
    record(client, new_event(user_stream("clinician"), PasswordSet, user="clinician", expires_at=past))
    signed_in = sign_in(client, "clinician")
    assert signed_in.status_code == 200 and signed_in.json()["password_change_required"] is True
    expired = bearer(signed_in)
    assert client.get("/v1/cases", headers=expired).json()["code"] == "PASSWORD_CHANGE_REQUIRED"
    change = {"current_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD}
    assert client.post("/v1/auth/password", headers=expired, json=change).status_code == 201
    assert client.get("/v1/cases", headers=expired).status_code == 200


@pytest.mark.req("URS-P11-300d")
def test_a_hundred_failures_record_a_bounded_number_of_access_denied(client):
    statuses = [sign_in(from_address(client, f"192.0.2.{i}"), "courier", f"guess {i}").status_code
                for i in range(100)]
    assert statuses.count(401) == 5 and statuses.count(429) == 95
    assert types_in(client, "courier").count("AccessDenied") == 5
    metrics = client.get("/metrics").text
    assert 'route="/v1/auth/token",status="429"} 95.0' in metrics.replace("method=\"POST\",", "")


def test_an_unknown_id_leaves_a_keyed_trace_only(client, caplog):
    with caplog.at_level("WARNING", logger="ledger.sign_in"):
        assert sign_in(client, "ghost-of-alice", "wrong guess").status_code == 401
    assert "unknown id (keyed digest" in caplog.text and "ghost-of-alice" not in caplog.text


def test_the_throttle_fails_closed_and_refuses_unreadable_limits(settings):
    with pytest.raises(ValueError):
        Settings(**{**settings.model_dump(), "sign_in_account_limits": "lots per fortnight"})
    unreachable = settings.model_copy(update={"rate_limit_storage": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(unreachable), raise_server_exceptions=False) as client:
        seed_identities(client.app.state.container.services)
        refused = sign_in(client, "qa")
        assert refused.status_code == 503 and refused.json()["code"] == "STORAGE_UNAVAILABLE"
        assert refused.headers["Retry-After"]


@EXPIRING
def test_the_redis_throttle_is_shared_by_two_service_instances(quick):
    run = uuid.uuid4().hex
    shared = quick.model_copy(update={
        "rate_limit_storage": os.environ.get("LEDGER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "site_secret": quick.site_secret.__class__(f"redis run {run} secret"),  # account keys of this run only
    })
    net = f"2001:db8:{run[:4]}:{run[4:8]}"  # client keys of this run only: Redis outlives the run
    with TestClient(create_app(shared), raise_server_exceptions=False, client=(f"{net}::20", 1)) as first, \
            TestClient(create_app(shared), raise_server_exceptions=False, client=(f"{net}::21", 1)) as second:
        seed_identities(first.app.state.container.services)
        for i in range(5):
            assert sign_in(first, "courier", f"wrong guess {i}").status_code == 401
        assert sign_in(second, "courier").status_code == 429  # the other worker knows
        assert sign_in(second, "qa").status_code == 200
        time.sleep(4.2)
        assert sign_in(second, "courier").status_code == 200
