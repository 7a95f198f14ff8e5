"""A real service over real HTTP (ASGI in process) on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.keys.keystore import KeyStore
from ledger.services.journeys import DEMO_PASSWORD, DEMO_USERS, seed_identities
from ledger.settings import Settings

PASSPHRASE = "e2e sealing passphrase"


@pytest.fixture
def settings(database, tmp_path) -> Settings:
    KeyStore(tmp_path / "keys").create(PASSPHRASE)
    return Settings(
        env="test", database_url=database.url, keys_dir=tmp_path / "keys", key_passphrase=PASSPHRASE,
        site_secret="e2e site secret, long enough", token_secret="e2e token secret, long enough",
        insecure_fast_hashing=True, pool_size=4,
    )


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        seed_identities(test_client.app.state.container.services)
        yield test_client


@pytest.fixture
def login(client):
    tokens: dict[str, str] = {}

    def headers(user: str) -> dict[str, str]:
        if user not in tokens:
            response = client.post("/v1/auth/token", data={"username": user, "password": DEMO_PASSWORD})
            assert response.status_code == 200, response.text
            tokens[user] = response.json()["access_token"]
        return {"Authorization": f"Bearer {tokens[user]}"}

    return headers


ROLE_USERS = {roles[0]: user for user, (_, roles, _) in DEMO_USERS.items()}


HOSPITAL_QA = "hospital-qa"


@pytest.fixture
def hospital_qa(client) -> str:
    """A QA user of hospital-1: the demo's ``qa`` works at the factory, and a site-bound user acts
    only on cases and units that involve its sites."""
    from ledger.services.executor import Context

    services = client.app.state.container.services
    services.identity.create_user(
        Context(actor="system"), user_id=HOSPITAL_QA, printed_name="Hana Hospital-QA", roles=["qa"],
        sites=["hospital-1"], password=DEMO_PASSWORD)
    services.qualification.qualify(Context(actor="system"), user_id=HOSPITAL_QA)
    return HOSPITAL_QA
