"""Test helpers shared by the suites: a generic catalogue and a fixed sealing key."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.datatypes import Celsius, EventData, Identifier, Text, UtcTime
from ledger.keys.sealing import KeyRing, SealingKey
from ledger.store.event_types import EventCatalogue

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class ReadingTaken(EventData):
    logger_id: Identifier
    celsius: Celsius
    t: UtcTime


class NoteAdded(EventData):
    text: Text


def core_catalogue() -> EventCatalogue:
    """The ledger core is generic: these two types stand in for the domain's."""
    return EventCatalogue({"ReadingTaken": ReadingTaken, "NoteAdded": NoteAdded})


def fixed_key(seed: int = 1, valid_from: datetime = EPOCH) -> SealingKey:
    """A deterministic Ed25519 key (seed byte repeated): for tests and golden vectors only."""
    return SealingKey(Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32), valid_from)


def ring_of(*keys: SealingKey) -> KeyRing:
    ring = KeyRing()
    for key in keys:
        ring = ring.with_key(key.published())
    return ring


def sign_off_review(client, headers: dict[str, str], coi: str, *, user: str = "qa",
                    password: str = "demo-password-123", lot: str | None = None, expect: int = 201,
                    code: str | None = None, exceptions: list | None = None, occurred_at: str | None = None) -> dict:
    """QA's review sign-off over HTTP, as a client does it: read the case's release summary and
    sign exactly its ``review.sign_off_list`` (``POST /v1/cases/{coi}/review-signoff``, e-signed
    ``reviewed``), or the ``exceptions`` given. Asserts the status (and the problem's ``code``)."""
    summary = client.get(f"/v1/cases/{coi}/release-summary", headers=headers)
    assert summary.status_code == 200, summary.text
    listed = summary.json()["review"]["sign_off_list"] if exceptions is None else exceptions
    body = {"exceptions": listed, "lot": lot, "occurred_at": occurred_at,
            "esign": {"user_id": user, "password": password, "meaning": "reviewed"}}
    response = client.post(f"/v1/cases/{coi}/review-signoff", headers=headers, json=body)
    assert response.status_code == expect, response.text
    if code is not None:
        assert response.json()["code"] == code, response.json()
    return response.json()


def disposition_open(client, headers: dict[str, str], coi: str, *, kind: str | None = None,
                     classification: str = "no_impact", comment: str = "reviewed: no impact on the product",
                     user: str = "qa", password: str = "demo-password-123") -> list[str]:
    """QA dispositions the case family's open COI-critical and GMP exceptions (of ``kind``, if
    given) over HTTP, each e-signed ``reviewed`` with the hash the release summary shows; their ids."""
    summary = client.get(f"/v1/cases/{coi}/release-summary", headers=headers)
    assert summary.status_code == 200, summary.text
    done = []
    for e in summary.json()["exceptions"]:
        if e["state"] != "open" or e["severity"] == "informational" or kind not in (None, e["kind"]):
            continue
        response = client.post(f"/v1/exceptions/{e['exception_id']}/disposition", headers=headers, json={
            "event_hash": e["event_hash"], "classification": classification, "comment": comment,
            "esign": {"user_id": user, "password": password, "meaning": "reviewed"}})
        assert response.status_code == 201, response.text
        done.append(e["exception_id"])
    return done


def last_record_by_people(ledger) -> int:
    """The position of the last record anyone but the ledger itself made: its own followers (an alert
    falling due) may append while a refused request is judged, which is not that request's doing."""
    position, found = 0, 0
    while batch := ledger.read_log(after=position, limit=500):
        position = batch[-1][0]
        found = max([found, *(p for p, e in batch if e.envelope["actor"] != "system")])
    return found


def self_signed_certificate(directory, name: str):
    """A self-signed certificate for the DNS name ``name`` that can be its own trust anchor, and
    its key: ``(cert.pem, key.pem)`` written in ``directory``."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file
