"""21 CFR 11.70 over HTTP: an e-signature offered with a step is kept with its record or the
step is refused; it is never accepted and dropped. Each event type's rule (``EventSpec.signature``)
decides: ``optional`` types keep it in the envelope exactly as ``required`` ones, and it verifies;
a meaning the type does not take, or a signature where a route takes none, is refused before the
password is tried or anything is written."""

from __future__ import annotations

from uuid import UUID

import pytest

from ledger.envelope import esign_digest
from ledger.keys.keydir import KeyDirectory
from ledger.keys.keystore import KeyStore
from ledger.services.journeys import DEMO_PASSWORD
from ledger.store.rawstore import connect, key_event_envelopes
from ledger.verification.verify import verify_database

from . import test_on_behalf_http as shared
from .conftest import HOSPITAL_QA

coi = shared.coi  # the fixture: a case enrolled by the nurse at hospital-1
_refused, _last = shared._refused, shared._positions


def _sign(user: str, meaning: str, password: str = DEMO_PASSWORD) -> dict:
    return {"user_id": user, "password": password, "meaning": meaning}


def _envelope(client, appended: dict) -> dict:
    return next(e.envelope for e in client.app.state.container.ledger.read_stream(UUID(appended["stream"]))
                if str(e.envelope["event_id"]) == appended["event_id"])


def _label(client, login, coi: str, **extra):
    return client.post("/v1/events", headers=login("nurse"), json={
        "type": "UnitLabelled", "coi": coi, "data": {"kind": "apheresis_bag"}, **extra})


@pytest.mark.req("URS-P11-70b")
def test_a_signature_on_an_optional_type_is_kept_in_the_envelope_and_verifies(client, login, coi, database,
                                                                              settings):
    labelled = _label(client, login, coi, esign=_sign("nurse", "authored"))
    assert labelled.status_code == 201, labelled.text
    unit = labelled.json()["answer"]["unit_id"]
    qc = client.post("/v1/events", headers=login("nurse"), json={
        "type": "QCResultRecorded", "unit_id": unit, "data": {"test": "sterility", "result": "pass"},
        "esign": _sign("nurse", "reviewed")})
    assert qc.status_code == 201, qc.text

    with connect(database) as conn:
        keys = KeyDirectory.from_envelopes(key_event_envelopes(database, conn))
    for appended, meaning in ((labelled.json(), "authored"), (qc.json(), "reviewed")):
        envelope = _envelope(client, appended)
        esign = envelope["esign"]
        assert esign["signer"] == "nurse" and esign["meaning"] == meaning and esign["signature"]
        assert esign["printed_name"] == "Nina Nurse"
        assert keys.check_esign(esign, esign_digest(envelope)) is None  # the signer's key signed this record
    assert verify_database(database, KeyStore(settings.keys_dir).key_ring(), workers=1).intact
    # unsigned, the same step is still recorded (optional), with no signature
    plain = _label(client, login, coi)
    assert plain.status_code == 201 and _envelope(client, plain.json())["esign"] is None


@pytest.mark.req("URS-P11-70b")
def test_a_meaning_the_type_does_not_take_is_refused_before_the_password_and_writes_nothing(client, login, coi):
    before = _last(client)
    _refused(_label(client, login, coi, esign=_sign("nurse", "released")), 422, "WRONG_SIGNATURE_MEANING")
    # refused before the password is tried: a wrong one is not even a failed sign-in
    _refused(_label(client, login, coi, esign=_sign("nurse", "administered", "not the password")),
             422, "WRONG_SIGNATURE_MEANING")
    _refused(client.post("/v1/events/batch", headers=login("nurse"), json={"events": [
        {"type": "UnitLabelled", "coi": coi, "data": {"kind": "sample"}},
        {"type": "UnitLabelled", "coi": coi, "data": {"kind": "sample"}, "esign": _sign("nurse", "approved")},
    ]}), 422, "WRONG_SIGNATURE_MEANING")
    assert _last(client) == before


def test_a_route_whose_event_takes_no_signature_refuses_one_and_writes_nothing(client, login, coi):
    before = _last(client)
    # a scan (UnitScanned) takes no signature: the request is refused, not recorded unsigned
    _refused(client.post("/v1/scans", headers=login("nurse"), json={
        "raw": "anything", "purpose": "verify", "esign": _sign("nurse", "authored")}), 422, "VALIDATION_FAILED")
    assert _last(client) == before


@pytest.mark.req("URS-P11-70b", "URS-P11-200")
def test_a_required_signature_is_still_required_and_kept(client, login, coi, hospital_qa):
    body = {"type": "AuditTrailReviewed", "coi": coi, "data": {"through_position": _last(client)}}
    before = _last(client)
    _refused(client.post("/v1/events", headers=login(HOSPITAL_QA), json=body), 409, "ESIGNATURE_REQUIRED")
    _refused(client.post("/v1/events", headers=login(HOSPITAL_QA), json={
        **body, "esign": _sign(HOSPITAL_QA, "authored")}), 422, "WRONG_SIGNATURE_MEANING")
    assert _last(client) == before
    reviewed = client.post("/v1/events", headers=login(HOSPITAL_QA), json={
        **body, "esign": _sign(HOSPITAL_QA, "reviewed")})
    assert reviewed.status_code == 201, reviewed.text
    assert _envelope(client, reviewed.json())["esign"]["meaning"] == "reviewed"


def test_the_event_schema_documents_each_types_signature_rule(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert "optional: authored" in schemas["UnitLabelledRequest"]["properties"]["esign"]["description"]
    assert "required: released" in schemas["ProductReleasedRequest"]["properties"]["esign"]["description"]
