"""A bearer token's principal is cached per process (``api.principals``); a change anywhere ends
it at once everywhere: two app instances on one database, the second with a cache that would
otherwise keep its entries for an hour.

On PostgreSQL the second instance names the database by another URL, so this process's own
notice bus (keyed by URL) does not connect the two: only the database's LISTEN/NOTIFY does, as
between two server processes. On SQLite (one process by design) the bus does.
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.services.journeys import DEMO_PASSWORD, seed_identities
from ledger.services.token_store import digest

PUSH_WAIT_SECONDS = 15.0  # a bound on waiting, far below the cache's hour: a refusal here is a push


@pytest.fixture
def two_instances(settings, database):
    other_url = database.url.replace("postgresql://", "postgres://", 1) if database.kind == "postgres" else None
    second = settings.model_copy(update={"database_url": other_url}) if other_url else settings
    with TestClient(create_app(settings), raise_server_exceptions=False) as first, \
            TestClient(create_app(second), raise_server_exceptions=False) as other:
        seed_identities(first.app.state.container.services)
        cache = other.app.state.container.principals
        cache.ttl = 3600.0
        if database.kind == "postgres":
            assert other.app.state.container.settings.database.url != first.app.state.container.settings.database.url
            cache.get("warm-up")  # starts its listener
            _until(lambda: cache._listener is not None and cache._listener.connected.is_set())
        yield first, other


def _until(condition, seconds: float = PUSH_WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _token(client: TestClient, user: str) -> str:
    answer = client.post("/v1/auth/token", data={"username": user, "password": DEMO_PASSWORD})
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _cached(client: TestClient, token: str) -> bool:
    return client.app.state.container.principals.get(digest(token)) is not None


def test_a_revoked_token_is_refused_by_another_instance_and_other_tokens_keep_working(two_instances):
    first, other = two_instances
    admin = _bearer(_token(first, "admin"))
    revoked = first.post("/v1/tokens", headers=admin, json={"user": "integrator", "days": 30}).json()
    kept = first.post("/v1/tokens", headers=admin, json={"user": "integrator", "days": 30}).json()
    for token in (revoked["access_token"], kept["access_token"]):
        assert other.get("/v1/tokens", headers=_bearer(token)).status_code == 200
        assert _cached(other, token)  # from here on the other instance answers from its cache

    ended = first.post(f"/v1/tokens/{revoked['token_id']}/revoke", headers=admin, json={"reason": "rotated"})
    assert ended.status_code == 201, ended.text

    assert _until(lambda: not _cached(other, revoked["access_token"]))
    refused = other.get("/v1/tokens", headers=_bearer(revoked["access_token"]))
    assert refused.status_code == 401 and refused.json()["code"] == "INVALID_TOKEN"
    assert other.get("/v1/tokens", headers=_bearer(kept["access_token"])).status_code == 200
    assert _cached(other, kept["access_token"])


def test_a_deactivated_user_and_a_signed_out_session_end_on_another_instance(two_instances):
    first, other = two_instances
    admin = _bearer(_token(first, "admin"))
    nurse, qa, courier = _token(first, "nurse"), _token(first, "qa"), _token(first, "courier")
    for token in (nurse, qa, courier):
        assert other.get("/v1/cases", headers=_bearer(token)).status_code == 200
        assert _cached(other, token)

    assert first.post("/v1/users/nurse/deactivate", headers=admin,
                      json={"reason": "left the hospital"}).status_code == 201
    first.app.state.container.tokens.revoke(qa)  # a signed-out (portal) session

    assert _until(lambda: not _cached(other, nurse) and not _cached(other, qa))
    assert other.get("/v1/cases", headers=_bearer(nurse)).status_code == 401
    assert other.get("/v1/cases", headers=_bearer(qa)).json()["code"] == "INVALID_TOKEN"
    assert other.get("/v1/cases", headers=_bearer(courier)).status_code == 200


def test_roles_changed_on_one_instance_apply_on_another(two_instances):
    first, other = two_instances
    admin = _bearer(_token(first, "admin"))
    auditor = _token(first, "auditor")
    assert other.get("/v1/audit-trail", headers=_bearer(auditor), params={"limit": 1}).status_code == 200
    assert _cached(other, auditor)

    changed = first.post("/v1/users/auditor/roles", headers=admin,
                         json={"roles": ["courier"], "sites": ["courier-hub-1"]})
    assert changed.status_code == 201, changed.text

    assert _until(lambda: not _cached(other, auditor))
    assert other.get("/v1/audit-trail", headers=_bearer(auditor), params={"limit": 1}).status_code == 403
