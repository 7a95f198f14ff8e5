"""Issue 13 (privacy): idempotency digests are keyed, an unrecognised scan keeps no text, and only
``dev`` runs with the default secrets. Real HTTP, real SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from uuid import UUID

import pytest
from pydantic import ValidationError
from sqlalchemy import inspect, text

from api.routes.cases import Enrolment
from ledger.envelope import canonical
from ledger.settings import DEV_PASSPHRASE, DEV_SITE_SECRET, DEV_TOKEN_SECRET, Settings
from ledger.streams import case_stream

BODY = {"kind": "autologous", "product": "CAR-T", "treating_site": "hospital-1", "mrn": "MRN-PRIV-7"}


def _unkeyed(body: dict) -> str:
    """What an attacker with the idempotency table computes for each candidate MRN."""
    dumped = Enrolment(**body).model_dump(mode="json")
    return hashlib.sha256(canonical({"route": "/v1/cases", "body": dumped})).hexdigest()


def _stored_digests(client) -> list[str]:
    with client.app.state.container.engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT request_digest FROM ledger_idempotency"))]


def test_the_idempotency_digest_is_keyed_and_still_replays(client, login):
    headers = {**login("nurse"), "Idempotency-Key": "ehr-priv-1"}
    first = client.post("/v1/cases", headers=headers, json=BODY)
    assert first.status_code == 201, first.text
    [stored] = _stored_digests(client)
    assert stored != _unkeyed(BODY)  # an MRN is no longer found by hashing candidates
    again = client.post("/v1/cases", headers=headers, json=BODY)
    assert again.status_code == 201 and again.json()["replayed"]
    assert again.json()["event_id"] == first.json()["event_id"]
    other = client.post("/v1/cases", headers=headers, json={**BODY, "mrn": "MRN-PRIV-8"})
    assert other.status_code == 409 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_claim_stored_before_digests_were_keyed_still_replays(client, login):
    headers = {**login("nurse"), "Idempotency-Key": "ehr-priv-2"}
    first = client.post("/v1/cases", headers=headers, json=BODY)
    assert first.status_code == 201, first.text
    with client.app.state.container.engine.begin() as conn:  # as an older version wrote it
        conn.execute(text("UPDATE ledger_idempotency SET request_digest = :d"), {"d": _unkeyed(BODY)})
    again = client.post("/v1/cases", headers=headers, json=BODY)
    assert again.status_code == 201 and again.json()["replayed"], again.text
    assert again.json()["event_id"] == first.json()["event_id"]
    other = client.post("/v1/cases", headers=headers, json={**BODY, "mrn": "MRN-PRIV-8"})
    assert other.status_code == 409 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


def _everything_stored(client) -> str:
    """Every row of every table (events, idempotency claims, read models) as text."""
    engine = client.app.state.container.engine
    out = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608 - our own table names
                for value in row:
                    out.append(bytes(value).decode("utf-8", "replace")
                               if isinstance(value, bytes | memoryview) else str(value))
    return "\n".join(out)


@pytest.mark.req("URS-PRIV-1")
def test_an_unrecognised_scan_keeps_no_text(client, login):
    nurse = login("nurse")
    enrolled = client.post("/v1/cases", headers=nurse, json=BODY)
    coi = enrolled.json()["answer"]["coi"]
    wristband = "MRN-55-0192"
    scan = client.post("/v1/scans", headers=nurse, json={"raw": wristband, "purpose": "infusion",
                                                        "expect": {"coi": coi}})
    assert scan.status_code == 201, scan.text
    assert scan.json()["verdict"] == "unknown" and wristband not in scan.text
    container = client.app.state.container
    assert container.wait_for(scan.json()["event"]["position"], timeout=5)
    [data] = [e.envelope["data"] for e in container.ledger.read_stream(case_stream(coi))
              if e.envelope["type"] == "UnitScanned"]
    assert data.get("raw") is None and data["parsed"] == {}
    assert data["scanned"]["kind"] == "unrecognised" and data["scanned"]["length"] == len(wristband)
    stored = _everything_stored(client)
    assert wristband not in stored and "55-0192" not in stored
    assert hashlib.sha256(wristband.encode()).hexdigest() not in stored
    audit = client.get("/v1/audit-trail", headers=login("auditor"), params={"coi": coi})
    assert audit.status_code == 200 and wristband not in audit.text
    epcis = client.get("/v1/epcis/events", headers=login("auditor"), params={"coi": coi})
    assert epcis.status_code == 200 and wristband not in epcis.text


def test_a_recognised_label_keeps_its_identifiers_not_its_text(client, login):
    nurse = login("nurse")
    coi = client.post("/v1/cases", headers=nurse, json=BODY).json()["answer"]["coi"]
    labelled = client.post("/v1/units", headers=nurse, json={"coi": coi, "kind": "apheresis_bag"})
    label = labelled.json()["answer"]["label"]
    assert client.app.state.container.wait_for(labelled.json()["position"], timeout=5)
    scan = client.post("/v1/scans", headers=nurse, json={"raw": f"  {label}\t", "purpose": "verify"})
    assert scan.status_code == 201, scan.text
    container = client.app.state.container
    [data] = [e.envelope["data"] for e in container.ledger.read_stream(UUID(labelled.json()["answer"]["unit_id"]))
              if e.envelope["type"] == "UnitScanned"]
    assert data.get("raw") is None and data["parsed"] == {"unit_label": label}
    assert data["scanned"]["length"] == len(label) + 3


@pytest.mark.parametrize("env", ["test", "production"])
def test_only_dev_runs_with_the_default_secrets(env, tmp_path):
    database_url = f"sqlite:///{tmp_path}/x.sqlite"
    with pytest.raises(ValidationError, match="LEDGER_SITE_SECRET"):
        Settings(env=env, database_url=database_url)
    with pytest.raises(ValidationError, match="LEDGER_TOKEN_SECRET"):
        Settings(env=env, database_url=database_url, key_passphrase="a long test passphrase",
                 site_secret="a long test site secret")
    Settings(env=env, database_url=database_url, key_passphrase="a long test passphrase",
             site_secret="a long test site secret", token_secret="a long test token secret")
    dev = Settings(env="dev", database_url=database_url)
    assert (dev.key_passphrase.get_secret_value(), dev.site_secret.get_secret_value(),
            dev.token_secret.get_secret_value()) == (DEV_PASSPHRASE, DEV_SITE_SECRET, DEV_TOKEN_SECRET)
