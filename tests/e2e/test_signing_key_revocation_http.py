"""21 CFR 11.300(c), (d) over real HTTP: a lost or compromised credential is revoked and a new one
issued. A person's e-signature key revoked (by an admin, or by the person) stops their signing with
``SIGNING_KEY_REVOKED`` until they issue a new key with their password (or change it); a device's
key revoked stops its writes until an admin registers a new key. Everything signed before stays
verifiable (``ledger verify``, the dossier verifiers); a signature dated after the revocation is not."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from ledger.domain.events_case import AuditTrailReviewed, CaseEnrolled
from ledger.envelope import esign_digest
from ledger.keys.keydir import KeyDirectory
from ledger.keys.sealing import b64, key_id_of, raw_public_key
from ledger.services.journeys import DEMO_PASSWORD
from ledger.streams import user_stream
from ledger.timefmt import format_utc, parse_utc
from ledger.verification.dossier import verify_dossier
from ledger_cli.main import app as cli_app
from tests.unit.test_dossier import tool

from .conftest import PASSPHRASE
from .test_device_signing_http import logger, post, reading, recorded, upload  # noqa: F401 - a fixture

NEW_PASSWORD = "Quartz-lantern-97-orbit"


def _refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.json()


def _case(client, login) -> tuple[str, int]:
    enrolled = client.post("/v1/events", headers=login("nurse"), json={
        "type": CaseEnrolled.__name__, "data": {"kind": "autologous", "product": "CAR-T",
                                               "treating_site": "hospital-1", "mrn": "MRN-KEY-1"}})
    assert enrolled.status_code == 201, enrolled.text
    return enrolled.json()["answer"]["coi"], enrolled.json()["position"]


def _review(client, headers, user, case, *, password=DEMO_PASSWORD):
    coi, position = case
    return client.post("/v1/events", headers=headers, json={
        "type": AuditTrailReviewed.__name__, "coi": coi, "data": {"through_position": position},
        "esign": {"user_id": user, "password": password, "meaning": "reviewed"}})


def _user_events(client, user: str) -> list[dict]:
    return [e.envelope for e in client.app.state.container.ledger.read_stream(user_stream(user))]


def _cli(settings, monkeypatch) -> CliRunner:
    for name, value in {"LEDGER_DATABASE_URL": settings.database_url, "LEDGER_KEYS_DIR": str(settings.keys_dir),
                        "LEDGER_KEY_PASSPHRASE": PASSPHRASE, "LEDGER_ENV": "test",
                        "LEDGER_SITE_SECRET": settings.site_secret.get_secret_value(),
                        "LEDGER_TOKEN_SECRET": settings.token_secret.get_secret_value(),
                        "LEDGER_CLI_USER": "admin", "LEDGER_CLI_PASSWORD": DEMO_PASSWORD}.items():
        monkeypatch.setenv(name, value)  # outside dev the CLI records the person running it
    return CliRunner()


def _verified(client, login, cli, coi) -> None:
    verified = cli.invoke(cli_app, ["verify", "--workers", "1"])
    assert verified.exit_code == 0, verified.output
    assert verified.output.strip().splitlines()[-1].startswith("intact")
    if coi is not None:
        bundle = client.get(f"/v1/cases/{coi}/dossier", headers=login("auditor")).json()
        assert verify_dossier(bundle) == [] and tool.verify(bundle) == []


@pytest.mark.req("URS-P11-300c")
def test_an_admin_revokes_a_key_the_person_cannot_sign_until_they_issue_a_new_one(
        client, login, hospital_qa, settings, monkeypatch):
    qa, case = login(hospital_qa), _case(client, login)
    coi = case[0]
    before = _review(client, qa, hospital_qa, case)
    assert before.status_code == 201, before.text
    issued = [e for e in _user_events(client, hospital_qa) if e["type"] == "UserSigningKeyIssued"]
    old_key = issued[-1]["data"]["key_id"]

    url = f"/v1/users/{hospital_qa}/signing-key/revoke"
    _refused(client.post(url, headers=login("nurse"), json={"reason": "suspected compromise"}), 403, "FORBIDDEN")
    revoked = client.post(url, headers=login("admin"), json={"reason": "suspected compromise"})
    assert revoked.status_code == 201, revoked.text
    _refused(client.post(url, headers=login("admin"), json={"reason": "again"}), 409, "KEY_REVOKED")

    signs_before = len(client.app.state.container.ledger.read_stream(UUID(before.json()["stream"])))
    _refused(_review(client, qa, hospital_qa, case), 403, "SIGNING_KEY_REVOKED")
    assert len(client.app.state.container.ledger.read_stream(UUID(before.json()["stream"]))) == signs_before

    _refused(client.post("/v1/auth/signing-key", headers=qa, json={"password": "not-the-password-1"}),
             401, "INVALID_CREDENTIALS")
    issued = client.post("/v1/auth/signing-key", headers=qa, json={"password": DEMO_PASSWORD})
    assert issued.status_code == 201, issued.text
    new_key = issued.json()["answer"]["key_id"]
    assert new_key != old_key
    after = _review(client, qa, hospital_qa, case)
    assert after.status_code == 201, after.text

    events = _user_events(client, hospital_qa)
    revocation = next(e for e in events if e["type"] == "UserSigningKeyRevoked")
    assert revocation["actor"] == "admin" and revocation["data"] == {
        "user": hospital_qa, "key_id": old_key, "reason": "suspected compromise"}
    assert events[-1]["type"] == "UserSigningKeyIssued" and events[-1]["actor"] == hospital_qa
    stream = client.app.state.container.ledger.read_stream(UUID(before.json()["stream"]))
    signed = [e.envelope for e in stream if e.envelope.get("esign")]
    assert [s["esign"]["key_id"] for s in signed] == [old_key, new_key]
    _verified(client, login, _cli(settings, monkeypatch), coi)

    # a signature dated after the revocation is refused by both verifiers, whatever its bytes
    keys, offline = KeyDirectory.from_envelopes(events), tool.Keys([])
    for envelope in events:
        if "key_id" in envelope["data"]:
            offline.learn(envelope)
    late = {**signed[0]["esign"],
            "signed_at": format_utc(parse_utc(revocation["recorded_at"]) + timedelta(seconds=1))}
    assert keys.check_esign(signed[0]["esign"], esign_digest(signed[0])) is None
    assert "not valid" in keys.check_esign(late, b"")
    assert "not valid" in offline.holder_ok("user", hospital_qa, old_key, parse_utc(late["signed_at"]), b"",
                                            late["signature"])


def test_a_person_revokes_their_own_key_and_a_password_change_issues_a_new_one(client, login, hospital_qa):
    qa, case = login(hospital_qa), _case(client, login)
    _refused(client.post("/v1/users/admin/signing-key/revoke", headers=qa, json={"reason": "mine?"}),
             403, "FORBIDDEN")
    revoked = client.post(f"/v1/users/{hospital_qa}/signing-key/revoke", headers=qa,
                          json={"reason": "laptop with my session lost"})
    assert revoked.status_code == 201, revoked.text
    _refused(_review(client, qa, hospital_qa, case), 403, "SIGNING_KEY_REVOKED")
    changed = client.post("/v1/auth/password", headers=qa, json={"current_password": DEMO_PASSWORD,
                                                                 "new_password": NEW_PASSWORD})
    assert changed.status_code == 201, changed.text
    assert _review(client, qa, hospital_qa, case, password=NEW_PASSWORD).status_code == 201
    kinds = [e["type"] for e in _user_events(client, hospital_qa)][-3:]
    assert kinds == ["UserSigningKeyRevoked", "PasswordChanged", "UserSigningKeyIssued"]


def test_a_new_signing_key_is_issued_only_to_oneself(client, login):
    issued = client.post("/v1/auth/signing-key", headers=login("admin"), json={"password": DEMO_PASSWORD})
    assert issued.status_code == 201, issued.text  # an admin's own key: the route names no one else
    assert issued.json()["stream"] == str(user_stream("admin"))
    kinds = [e["type"] for e in _user_events(client, "admin")][-2:]
    assert kinds == ["UserSigningKeyRevoked", "UserSigningKeyIssued"]  # the active one superseded


def test_the_cli_revokes_a_signing_key(client, login, hospital_qa, settings, monkeypatch):
    cli = _cli(settings, monkeypatch)
    done = cli.invoke(cli_app, ["users", "revoke-signing-key", hospital_qa, "--reason", "badge stolen"])
    assert done.exit_code == 0, done.output
    again = cli.invoke(cli_app, ["users", "revoke-signing-key", hospital_qa, "--reason", "badge stolen"])
    assert again.exit_code == 1 and "KEY_REVOKED" in again.output
    _refused(_review(client, login(hospital_qa), hospital_qa, _case(client, login)), 403, "SIGNING_KEY_REVOKED")
    assert _user_events(client, hospital_qa)[-1]["actor"] == "admin"


@pytest.mark.req("URS-P11-300c", "URS-P11-10h")
def test_a_device_whose_key_was_lost_writes_again_only_with_its_new_key(client, login, logger,  # noqa: F811
                                                                       settings, monkeypatch):
    admin = login("admin")
    assert post(client, logger, upload(logger, "n-1", reading(30))).status_code == 201
    revoke = f"/v1/devices/logger-1/keys/{logger['kid']}/revoke"
    _refused(client.post(revoke, headers=login("nurse"), json={"reason": "lost"}), 403, "FORBIDDEN")
    assert client.post(revoke, headers=admin, json={"reason": "lost"}).status_code == 201
    _refused(post(client, logger, upload(logger, "n-2", reading(25))), 403, "DEVICE_KEY_REVOKED")

    new = Ed25519PrivateKey.generate()
    body = {"public_key": b64(raw_public_key(new.public_key()))}
    _refused(client.post("/v1/devices/logger-1/keys", headers=login("nurse"), json=body), 403, "FORBIDDEN")
    _refused(client.post("/v1/devices/logger-1/keys", headers=admin, json={"public_key": "not base64!"}),
             422, "INVALID_DATA")
    _refused(client.post("/v1/devices/logger-9/keys", headers=admin, json=body), 409, "DEVICE_NOT_FOUND")
    registered = client.post("/v1/devices/logger-1/keys", headers=admin, json=body)
    assert registered.status_code == 201, registered.text
    _refused(client.post("/v1/devices/logger-1/keys", headers=admin, json=body), 409, "KEY_ALREADY_REGISTERED")

    _refused(post(client, logger, upload(logger, "n-3", reading(20))), 403, "DEVICE_KEY_REVOKED")  # the old key
    renewed = {**logger, "key": new, "kid": key_id_of(raw_public_key(new.public_key()))}
    assert post(client, renewed, upload(renewed, "n-4", reading(15))).status_code == 201
    _refused(post(client, logger, upload(logger, None, reading(10))), 422, "DEVICE_SIGNATURE_REQUIRED")
    assert recorded(client, logger) == 2
    _verified(client, login, _cli(settings, monkeypatch), None)


@pytest.mark.parametrize("route", ["/v1/users/nurse/signing-key/revoke", "/v1/auth/signing-key"])
def test_a_device_token_manages_no_person_key(client, login, logger, route):  # noqa: F811
    answer = client.post(route, headers=logger["headers"], json={"reason": "x"} if "revoke" in route
                         else {"password": DEMO_PASSWORD})
    _refused(answer, 403, "FORBIDDEN")
