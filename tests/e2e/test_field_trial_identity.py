"""Issue 15 (first field trial): label identifiers, expiry at the event's time, allogeneic
bedside checks and sites as master data, over real HTTP."""

from __future__ import annotations

import pytest


def _enrol(client, headers, mrn: str, **extra) -> str:
    body = {"kind": "autologous", "product": "CAR-T", "treating_site": "hospital-1", "mrn": mrn, **extra}
    response = client.post("/v1/cases", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()["answer"]["coi"]


# Defect 1: an identifier accepted at labelling must print and scan back.

def test_a_din_in_data_identifier_form_is_normalised_and_the_label_renders(client, login):
    nurse = login("nurse")
    coi = _enrol(client, nurse, "MRN-ID-1")
    labelled = client.post("/v1/units", headers=nurse, json={
        "coi": coi, "kind": "apheresis_bag", "identifiers": {"din": "=W123426654321"}})
    assert labelled.status_code == 201, labelled.text
    unit_id = labelled.json()["answer"]["unit_id"]
    assert client.get(f"/v1/units/{unit_id}", headers=nurse).json()["identifiers"] == {"din": "W123426654321"}
    png = client.get(f"/v1/units/{unit_id}/label.png", headers=nurse)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert client.app.state.container.wait_for(labelled.json()["position"], timeout=5)
    scan = client.post("/v1/scans", headers=nurse, json={"raw": "=W123426654321", "purpose": "verify"})
    assert scan.status_code == 201, scan.text
    assert scan.json()["unit_id"] == unit_id


@pytest.mark.parametrize(("identifiers", "why"), [
    ({"din": "=W12342665432"}, "not an ISBT 128 DIN"),
    ({"din": "W123426654321X"}, "wrong check character"),
    ({"gtin": "9506000134353"}, "GS1 check digit"),
    ({"sscc": "12345"}, "not a SSCC"),
    ({"epc": "urn:epc:id:sgtin:0614141"}, "EPC pure identity"),
    ({"mes_ref": "batch 7"}, "not one a label can carry"),
])
def test_an_identifier_no_later_step_could_use_is_refused_at_labelling(client, login, identifiers, why):
    nurse = login("nurse")
    coi = _enrol(client, nurse, "MRN-ID-2")
    for path, body in (("/v1/units", {"coi": coi, "kind": "apheresis_bag", "identifiers": identifiers}),
                       ("/v1/events", {"type": "UnitLabelled", "coi": coi,
                                       "data": {"kind": "apheresis_bag", "identifiers": identifiers}})):
        refused = client.post(path, headers=nurse, json=body)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "INVALID_IDENTIFIER" and why in refused.json()["detail"]


def test_every_identifier_kind_accepted_renders_and_scans_back(client, login):
    nurse = login("nurse")
    coi = _enrol(client, nurse, "MRN-ID-3")
    identifiers = {"din": "A999917123456", "sscc": "106141411234567897", "gtin": "9506000134352",
                   "epc": "urn:epc:id:sgtin:0614141.812345.6789", "gs1": "(01)09506000134352(21)SN42"}
    labelled = client.post("/v1/units", headers=nurse, json={"coi": coi, "kind": "shipper",
                                                             "identifiers": identifiers})
    assert labelled.status_code == 201, labelled.text
    unit_id = labelled.json()["answer"]["unit_id"]
    for fmt in ("png", "svg", "pdf"):
        assert client.get(f"/v1/units/{unit_id}/label.{fmt}", headers=nurse).status_code == 200
    assert client.app.state.container.wait_for(labelled.json()["position"], timeout=5)
    for raw in ("=A99991712345600", "106141411234567897", "(00)106141411234567897", "09506000134352",
                "urn:epc:id:sgtin:0614141.812345.6789"):
        scan = client.post("/v1/scans", headers=nurse, json={"raw": raw, "purpose": "verify"})
        assert scan.status_code == 201, (raw, scan.text)
        assert scan.json()["unit_id"] == unit_id, raw


# Defect 2: expiry is judged at the event's occurred_at, and times in messages are RFC 3339.

def _iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_backfilled_derive_and_scan_dated_before_expiry_are_judged_at_their_time(client, login):
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    nurse, tech = login("nurse"), login("tech")
    coi = _enrol(client, nurse, "MRN-EXP-1")
    expiry = now - timedelta(hours=1)  # the server clock is past it; the events below are not
    bag = client.post("/v1/units", headers=nurse, json={
        "coi": coi, "kind": "apheresis_bag", "occurred_at": _iso(now - timedelta(days=3)),
        "spec": {"expiry": _iso(expiry)}}).json()
    bag_id = bag["answer"]["unit_id"]

    def event(headers, type_, data, at, **target):
        return client.post("/v1/events", headers=headers, json={
            "type": type_, "data": data, "occurred_at": _iso(at), **target})

    steps = [(nurse, "MaterialCollected", {"wristband": "MRN-EXP-1", "material": "leukapheresis",
                                           "collection_site": "hospital-1"}),
             (nurse, "CustodyTransferred", {"to_party": "tech"}), (tech, "CustodyAcknowledged", {})]
    for number, (headers, type_, data) in enumerate(steps):
        response = event(headers, type_, data, now - timedelta(days=3, hours=-number), unit_id=bag_id)
        assert response.status_code == 201, response.text
    assert client.app.state.container.wait_for(bag["position"], timeout=5)

    raw = bag["answer"]["label"]
    late = client.post("/v1/scans", headers=tech, json={"raw": raw, "purpose": "manufacturing"})
    assert late.json()["verdict"] == "expired"
    assert f"expired at {expiry.strftime('%Y-%m-%dT%H:%M:%S')}" in late.json()["reason"]
    assert late.json()["reason"].endswith("Z")
    backfilled = client.post("/v1/scans", headers=tech, json={
        "raw": raw, "purpose": "manufacturing", "occurred_at": _iso(now - timedelta(days=2))})
    assert backfilled.status_code == 201 and backfilled.json()["verdict"] == "match", backfilled.text

    outputs = [{"kind": "final_product_bag", "spec": {"expiry": _iso(now + timedelta(days=30))}}]
    data = {"inputs": [bag_id], "outputs": outputs, "process": "expansion"}
    refused = event(tech, "UnitsDerived", data, now - timedelta(minutes=30), coi=coi)
    assert refused.status_code == 409 and refused.json()["code"] == "UNIT_EXPIRED"
    assert f"expired at {expiry.strftime('%Y-%m-%dT%H:%M:%S')}" in refused.json()["detail"]
    derived = event(tech, "UnitsDerived", data, now - timedelta(days=2), coi=coi)
    assert derived.status_code == 201, derived.text
