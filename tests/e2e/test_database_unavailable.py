"""When the database goes away, clients get 503 + Retry-After, never a 500."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import _admin_conninfo

pytestmark = pytest.mark.postgres


@pytest.fixture
def database(pg_database):
    return pg_database


@pytest.mark.req("URS-ALCOA-AVAIL")
def test_requests_get_503_with_retry_after_when_postgres_is_gone(client, login, database):
    nurse = login("nurse")
    assert client.get("/v1/cases", headers=nurse).status_code == 200
    with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{database.dbname}" WITH (FORCE)')
    enrol = client.post("/v1/cases", headers=nurse, json={"kind": "autologous", "product": "p",
                                                          "treating_site": "hospital-1", "mrn": "m"})
    ready = client.get("/readyz")
    for response in (enrol, ready):
        assert response.status_code == 503, response.text
        assert int(response.headers["Retry-After"]) > 0
        assert response.headers["content-type"].startswith("application/problem+json")
