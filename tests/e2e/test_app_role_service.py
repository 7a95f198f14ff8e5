"""The service runs as a login role that is only a member of the append-only ``ledger_app`` role
(docker-compose.yml): ready, signs people in, records events; migrations stay with the owner."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.services.journeys import DEMO_PASSWORD, seed_identities

pytestmark = pytest.mark.postgres


@pytest.fixture
def app_role_settings(pg_database, settings):
    login = f"ledger_svc_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_database.psycopg_conninfo(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {login} LOGIN IN ROLE ledger_app")
    yield settings.model_copy(update={
        "database_url": pg_database.url.replace("postgresql://postgres@", f"postgresql://{login}@")})
    with psycopg.connect(pg_database.psycopg_conninfo(), autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {login}")
        conn.execute(f"DROP ROLE {login}")


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_the_service_works_as_a_member_of_ledger_app(app_role_settings):
    with TestClient(create_app(app_role_settings)) as client:
        assert client.get("/readyz").status_code == 200
        seed_identities(client.app.state.container.services)
        token = client.post("/v1/auth/token", data={"username": "qa", "password": DEMO_PASSWORD})
        assert token.status_code == 200, token.text
