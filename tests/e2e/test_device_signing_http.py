"""A signing device over HTTP: each signed submission is good for one event, of that device only,
and a device whose keys are all revoked may not write, signed or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.envelope import submission_bytes
from ledger.keys.sealing import b64, key_id_of, raw_public_key


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def logger(client, login):
    """A registered logger with a key and a token, and a shipper of a new case to log."""
    admin = login("admin")
    key = Ed25519PrivateKey.generate()
    kid = key_id_of(raw_public_key(key.public_key()))
    assert client.post("/v1/devices", headers=admin, json={
        "device_id": "logger-1", "kind": "logger", "site": "hospital-1",
        "public_key": b64(raw_public_key(key.public_key()))}).status_code == 201
    token = client.post("/v1/tokens", headers=admin, json={"device": "logger-1", "days": 30}).json()["access_token"]
    nurse = login("nurse")
    coi = client.post("/v1/cases", headers=nurse, json={"kind": "autologous", "product": "p",
                      "treating_site": "hospital-1", "mrn": "MRN-SIGN-1"}).json()["answer"]["coi"]
    unit = client.post("/v1/units", headers=nurse, json={"coi": coi, "kind": "shipper"}).json()["answer"]["unit_id"]
    return {"key": key, "kid": kid, "headers": bearer(token), "unit": unit}


def reading(minutes_ago: int) -> list[dict]:
    t = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    return [{"t": t, "celsius": 4.5}]


def upload(logger, nonce, readings, *, key=None, device="logger-1"):
    """The body a logger sends: the signed bytes are JCS {type, stream, occurred_at, data, device, nonce}."""
    body = {"logger_id": "LOG-1", "readings": readings}
    if nonce is not None:
        message = submission_bytes(type="TemperatureRecorded", stream=logger["unit"], occurred_at=None,
                                   data={"logger": "LOG-1", "readings": readings}, device=device, nonce=nonce)
        body["device_sig"] = {"device": device, "key_id": logger["kid"], "nonce": nonce,
                              "sig": b64((key or logger["key"]).sign(message))}
    return body


def post(client, logger, body, headers=None, **extra):
    return client.post(f"/v1/units/{logger['unit']}/temperatures", headers={**(headers or logger["headers"]), **extra},
                       json=body)


def recorded(client, logger) -> int:
    events = client.app.state.container.ledger.read_stream(UUID(logger["unit"]))
    return sum(e.envelope["type"] == "TemperatureRecorded" for e in events)


def test_signed_submissions_with_fresh_nonces_are_accepted_and_verifiable(client, logger):
    for i in range(3):
        response = post(client, logger, upload(logger, f"boot-1:{i}", reading(30 - i)))
        assert response.status_code == 201, response.text
    assert recorded(client, logger) == 3
    stored = client.app.state.container.ledger.read_stream(UUID(logger["unit"]))[-1].envelope["device_sig"]
    assert stored["nonce"] == "boot-1:2" and stored["device"] == "logger-1"
    unsigned = post(client, logger, upload(logger, None, reading(5)))
    assert unsigned.status_code == 422 and unsigned.json()["code"] == "DEVICE_SIGNATURE_REQUIRED"


@pytest.mark.req("URS-P11-10h")
def test_the_same_signed_submission_twice_is_refused_and_recorded_once(client, logger):
    body = upload(logger, "n-1", reading(20))
    assert post(client, logger, body).status_code == 201
    replay = post(client, logger, body)
    assert replay.status_code == 409 and replay.json()["code"] == "DEVICE_NONCE_REUSED"
    # the same nonce over other readings is a replay too, and so is the old signature on new data
    again = post(client, logger, upload(logger, "n-1", reading(10)))
    assert again.status_code == 409 and again.json()["code"] == "DEVICE_NONCE_REUSED"
    moved = {**upload(logger, "n-2", reading(10)), "device_sig": body["device_sig"]}
    assert post(client, logger, moved).json()["code"] == "DEVICE_SIGNATURE_INVALID"
    assert recorded(client, logger) == 1
    # a retry with an Idempotency-Key replays the first answer instead
    first = post(client, logger, upload(logger, "n-3", reading(8)), **{"Idempotency-Key": "up-3"})
    retry = post(client, logger, upload(logger, "n-3", reading(8)), **{"Idempotency-Key": "up-3"})
    assert first.status_code == retry.status_code == 201 and retry.json()["replayed"] is True
    assert recorded(client, logger) == 2


def test_a_signed_submission_is_refused_from_any_other_principal(client, login, logger):
    body = upload(logger, "n-1", reading(20))
    for other in (login("integrator"), login("nurse")):
        stolen = post(client, logger, body, headers=other)
        assert stolen.status_code == 422 and stolen.json()["code"] == "DEVICE_NOT_SUBMITTER", stolen.text
    admin = login("admin")
    assert client.post("/v1/devices", headers=admin, json={"device_id": "logger-2", "kind": "logger",
                                                           "site": "hospital-1"}).status_code == 201
    other_device = client.post("/v1/tokens", headers=admin, json={"device": "logger-2"}).json()["access_token"]
    assert post(client, logger, body, headers=bearer(other_device)).json()["code"] == "DEVICE_NOT_SUBMITTER"
    assert recorded(client, logger) == 0
    assert post(client, logger, body).status_code == 201  # the device itself, once
    replayed = post(client, logger, body, headers=login("integrator"))
    assert replayed.status_code == 422 and recorded(client, logger) == 1


@pytest.mark.req("URS-P11-300c")
def test_revoking_the_last_key_stops_the_device_writing(client, login, logger):
    assert post(client, logger, upload(logger, "n-1", reading(20))).status_code == 201
    revoked = client.post(f"/v1/devices/logger-1/keys/{logger['kid']}/revoke", headers=login("admin"),
                          json={"reason": "lost"})
    assert revoked.status_code == 201
    unsigned = post(client, logger, upload(logger, None, reading(10)))
    assert unsigned.status_code == 403 and unsigned.json()["code"] == "DEVICE_KEY_REVOKED"
    signed = post(client, logger, upload(logger, "n-2", reading(10)))
    assert signed.status_code == 403 and signed.json()["code"] == "DEVICE_KEY_REVOKED"
    assert recorded(client, logger) == 1


def test_a_device_that_never_had_a_key_may_post_unsigned(client, login, logger):
    admin = login("admin")
    assert client.post("/v1/devices", headers=admin, json={"device_id": "logger-3", "kind": "logger",
                                                           "site": "hospital-1"}).status_code == 201
    token = client.post("/v1/tokens", headers=admin, json={"device": "logger-3"}).json()["access_token"]
    assert post(client, logger, upload(logger, None, reading(10)), headers=bearer(token)).status_code == 201
