"""Identities over HTTP: ids never reused (11.100), device keys and their revocation (11.10(h))."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.envelope import submission_bytes
from ledger.keys.sealing import b64, key_id_of, raw_public_key


@pytest.mark.req("URS-P11-100")
def test_a_deactivated_user_id_is_never_reused(client, login):
    admin = login("admin")
    body = {"user_id": "temp-qa", "printed_name": "Temp QA", "roles": ["qa"], "password": "a-long-password-1"}
    assert client.post("/v1/users", headers=admin, json=body).status_code == 201
    token = client.post("/v1/auth/token", data={"username": "temp-qa", "password": "a-long-password-1"})
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert client.get("/v1/cases", headers=bearer).status_code == 200
    assert client.post("/v1/users/temp-qa/deactivate", headers=admin, json={"reason": "left"}).status_code == 201
    assert client.get("/v1/cases", headers=bearer).status_code == 401  # tokens revoked with the account
    again = client.post("/v1/users", headers=admin, json={**body, "printed_name": "Someone Else"})
    assert again.status_code == 409 and again.json()["code"] == "USER_ID_TAKEN"


@pytest.mark.req("URS-P11-10h")
def test_a_registered_logger_must_sign_and_a_revoked_key_is_refused(client, login):
    admin = login("admin")
    key = Ed25519PrivateKey.generate()
    public = b64(raw_public_key(key.public_key()))
    kid = key_id_of(raw_public_key(key.public_key()))
    device_body = {"device_id": "logger-9", "kind": "logger", "site": "hospital-1", "public_key": public}
    assert client.post("/v1/devices", headers=admin, json=device_body).status_code == 201
    token = client.post("/v1/tokens", headers=admin, json={"device": "logger-9"}).json()["access_token"]
    device = {"Authorization": f"Bearer {token}"}
    nurse = login("nurse")
    coi = client.post("/v1/cases", headers=nurse, json={"kind": "autologous", "product": "p",
                      "treating_site": "hospital-1", "mrn": "MRN-DEV-1"}).json()["answer"]["coi"]
    unit = client.post("/v1/units", headers=nurse, json={"coi": coi, "kind": "shipper"}).json()["answer"]["unit_id"]
    t = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    readings = [{"t": t, "celsius": 4.5}]

    def upload(sig):
        body = {"logger_id": "LOG-9", "readings": readings, **({"device_sig": sig} if sig else {})}
        return client.post(f"/v1/units/{unit}/temperatures", headers=device, json=body)

    unsigned = upload(None)
    assert unsigned.status_code == 422 and unsigned.json()["code"] == "DEVICE_SIGNATURE_REQUIRED"

    def signature(nonce, signer=key):
        message = submission_bytes(type="TemperatureRecorded", stream=unit, occurred_at=None,
                                   data={"logger": "LOG-9", "readings": readings}, device="logger-9", nonce=nonce)
        return {"device": "logger-9", "key_id": kid, "nonce": nonce, "sig": b64(signer.sign(message))}

    assert upload(signature("n-1")).status_code == 201
    forged = signature("n-2", Ed25519PrivateKey.generate())
    assert upload(forged).json()["code"] == "DEVICE_SIGNATURE_INVALID"
    revoke = client.post(f"/v1/devices/logger-9/keys/{kid}/revoke", headers=admin, json={"reason": "lost"})
    assert revoke.status_code == 201
    refused = upload(signature("n-3"))
    assert refused.status_code == 403 and refused.json()["code"] == "DEVICE_KEY_REVOKED"
