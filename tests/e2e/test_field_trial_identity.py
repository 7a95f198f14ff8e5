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
    scan = client.post("/v1/scans", headers=nurse, json={"raw": "=W12342665432100", "purpose": "verify"})
    assert scan.status_code == 201, scan.text
    assert scan.json()["unit_id"] == unit_id
    # a scanned DIN structure without its two flag characters is truncated (ISBT 128 ST-001 2.4.1)
    truncated = client.post("/v1/scans", headers=nurse, json={"raw": "=W123426654321", "purpose": "verify"})
    assert truncated.status_code == 422, truncated.text
    assert truncated.json()["parse_errors"][0]["code"] == "ISBT_TRUNCATED"


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


@pytest.mark.req("URS-COI-2")
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
        "coi": coi, "kind": "apheresis_bag", "occurred_at": _iso(now - timedelta(days=2)),
        "spec": {"expiry": _iso(expiry)}}).json()
    bag_id = bag["answer"]["unit_id"]

    def event(headers, type_, data, at, **target):
        return client.post("/v1/events", headers=headers, json={
            "type": type_, "data": data, "occurred_at": _iso(at), **target})

    steps = [(nurse, "MaterialCollected", {"wristband": "MRN-EXP-1", "material": "leukapheresis",
                                           "collection_site": "hospital-1"}),
             (nurse, "CustodyTransferred", {"to_party": "tech"}), (tech, "CustodyAcknowledged", {})]
    for number, (headers, type_, data) in enumerate(steps):
        response = event(headers, type_, data, now - timedelta(days=2, hours=-number), unit_id=bag_id)
        assert response.status_code == 201, response.text
    assert client.app.state.container.wait_for(bag["position"], timeout=5)

    raw = bag["answer"]["label"]
    late = client.post("/v1/scans", headers=tech, json={"raw": raw, "purpose": "manufacturing"})
    assert late.json()["verdict"] == "expired"
    assert f"expired at {expiry.strftime('%Y-%m-%dT%H:%M:%S')}" in late.json()["reason"]
    assert late.json()["reason"].endswith("Z")
    backfilled = client.post("/v1/scans", headers=tech, json={
        "raw": raw, "purpose": "manufacturing", "occurred_at": _iso(now - timedelta(days=1))})
    assert backfilled.status_code == 201 and backfilled.json()["verdict"] == "match", backfilled.text

    outputs = [{"kind": "final_product_bag", "spec": {"expiry": _iso(now + timedelta(days=30))}}]
    data = {"inputs": [bag_id], "outputs": outputs, "process": "expansion"}
    refused = event(tech, "UnitsDerived", data, now - timedelta(minutes=30), coi=coi)
    assert refused.status_code == 409 and refused.json()["code"] == "UNIT_EXPIRED"
    assert f"expired at {expiry.strftime('%Y-%m-%dT%H:%M:%S')}" in refused.json()["detail"]
    derived = event(tech, "UnitsDerived", data, now - timedelta(days=1), coi=coi)
    assert derived.status_code == 201, derived.text


# Defect 3: the allogeneic bedside check understands allocation.

def _allogeneic(client):
    """A donor and two released doses, each allocated to its own patient: [(unit, label)], [patient COI]."""
    from uuid import UUID

    from ledger.services.executor import Context
    from ledger.services.journeys import DEMO_PASSWORD, sign_off_review

    s = client.app.state.container.services
    nurse, tech = Context(actor="nurse", site="hospital-1"), Context(actor="tech", site="factory-1")
    donor = s.cases.register_donor(nurse, product="allo", collection_site="hospital-1",
                                   donor_id="DONOR-9").result.answer["coi"]
    bag = UUID(s.units.label(nurse, coi=donor, kind="apheresis_bag").result.answer["unit_id"])
    s.units.collect(nurse, unit_id=bag, wristband_mrn="DONOR-9", material="leukapheresis",
                    collection_site="hospital-1")
    s.units.handover(nurse, unit_id=bag, to_party="tech")
    s.units.acknowledge(tech, unit_id=bag)
    outputs = [{"kind": "final_product_bag", "spec": {"qc_required": ["sterility"]}}] * 2
    made = s.quality.derive(tech, coi=donor, inputs=[bag], outputs=outputs, process="expansion")
    doses, patients = [], []
    for index, dose in enumerate(made.result.answer["outputs"]):
        unit = UUID(dose["unit_id"])
        s.quality.record_qc(tech, unit_id=unit, test="sterility", result="pass")
        sign_off_review(s, Context(actor="qa", site="factory-1"), donor)
        s.quality.release(Context(actor="qa", site="factory-1"), unit_id=unit, notes="ok",
                          signoff=s.identity.signoff(user_id="qa", password=DEMO_PASSWORD, meaning="released"))
        patient = s.cases.enrol(nurse, kind="allogeneic", product="allo", treating_site="hospital-1",
                                mrn=f"MRN-ALLO-{index}").result.answer["coi"]
        allocated = s.cases.allocate(tech, patient_coi=patient, donor_coi=donor, unit_id=unit)
        doses.append((unit, dose["label"], donor))
        patients.append(patient)
    assert client.app.state.container.wait_for(allocated.result.receipts[-1].position, timeout=5)
    return doses, patients


@pytest.mark.req("URS-COI-1")
def test_a_dose_allocated_to_the_patient_matches_their_coi_at_the_bedside(client, login):
    from ledger.services.executor import Context
    from ledger.streams import case_stream
    from scanners.own import ldg1_payload

    doses, patients = _allogeneic(client)
    (unit, label, donor), patient, other = doses[0], patients[0], patients[1]
    clinician, ledger = login("clinician"), client.app.state.container.ledger
    for purpose in ("infusion", "verify"):
        for expect in ({"coi": patient}, {"coi": patient, "unit_id": str(unit)}, {"unit_id": str(unit)}):
            ok = client.post("/v1/scans", headers=clinician, json={
                "raw": ldg1_payload(label, donor), "purpose": purpose, "expect": expect})
            assert ok.status_code == 201, (purpose, expect, ok.text)
            assert ok.json()["verdict"] == "match", (purpose, expect, ok.json())

    def refusals() -> int:
        return sum(e.type == "OperationRefused" for c in (donor, patient, other)
                   for e in ledger.read_stream(case_stream(c)))

    before = refusals()
    wrong = client.post("/v1/scans", headers=clinician, json={
        "raw": ldg1_payload(label, donor), "purpose": "infusion", "expect": {"coi": other}})
    assert wrong.status_code == 409 and wrong.json()["code"] == "COI_MISMATCH", wrong.text
    assert refusals() == before + 1  # one attempt, one recorded refusal
    scans = [e.envelope["data"]["verdict"] for e in ledger.read_stream(unit) if e.type == "UnitScanned"]
    assert scans[-1] == "mismatch"

    s = client.app.state.container.services
    s.units.handover(Context(actor="tech"), unit_id=unit, to_party="clinician")
    s.units.acknowledge(Context(actor="clinician"), unit_id=unit)
    infuse = {"type": "ProductInfused", "unit_id": str(unit), "esign": {
        "user_id": "clinician", "password": "demo-password-123", "meaning": "administered"}}
    wrong_patient = client.post("/v1/events", headers=clinician, json={
        **infuse, "data": {"coi": other, "wristband": "MRN-ALLO-1", "bag_coi": donor}})
    assert wrong_patient.status_code == 409 and wrong_patient.json()["code"] == "COI_MISMATCH"
    assert refusals() == before + 2
    infused = client.post("/v1/events", headers=clinician, json={
        **infuse, "data": {"coi": patient, "wristband": "MRN-ALLO-0", "bag_coi": donor}})
    assert infused.status_code == 201, infused.text


# Defect 13: one enrolment rule on both routes, recorded at the treating site; sites are master data.

def _enrolment(treating_site: str, mrn: str) -> dict:
    return {"kind": "autologous", "product": "CAR-T", "treating_site": treating_site, "mrn": mrn}


def _enrol_both_ways(client, headers, treating_site: str, mrn: str):
    return (client.post("/v1/cases", headers=headers, json=_enrolment(treating_site, mrn)),
            client.post("/v1/events", headers=headers, json={
                "type": "CaseEnrolled", "data": _enrolment(treating_site, mrn + "-E")}))


def test_both_enrolment_routes_apply_one_rule_and_record_the_treating_site(client, login):
    from ledger.services.executor import Context
    from ledger.streams import case_stream

    ledger = client.app.state.container.ledger
    for response in _enrol_both_ways(client, login("integrator"), "hospital-1", "MRN-S-1"):
        assert response.status_code == 201, response.text
        enrolled = ledger.read_stream(case_stream(response.json()["answer"]["coi"]))[0]
        assert enrolled.envelope["site"] == "hospital-1"  # the treating site, not the integrator's first
    client.app.state.container.services.identity.create_user(
        Context(actor="system"), user_id="mes-plant", printed_name="MES at the plant", roles=["integrator"],
        sites=["factory-1"], password="demo-password-123")
    for response in _enrol_both_ways(client, login("mes-plant"), "hospital-1", "MRN-S-2"):
        assert response.status_code == 403 and response.json()["code"] == "SITE_FORBIDDEN", response.text
    mismatch = client.post("/v1/cases", headers=login("integrator"),
                           json={**_enrolment("hospital-1", "MRN-S-3"), "site": "factory-1"})
    assert mismatch.status_code == 422 and mismatch.json()["code"] == "SITE_MISMATCH"


def test_an_unknown_site_is_refused_in_every_write_that_names_one(client, login):
    from ledger.services.executor import Context

    client.app.state.container.services.identity.create_user(
        Context(actor="system"), user_id="ops", printed_name="Ops (all sites)", roles=["operator"],
        password="demo-password-123")
    client.app.state.container.services.qualification.qualify(Context(actor="system"), user_id="ops")
    ops, nurse, admin = login("ops"), login("nurse"), login("admin")

    def refused(response) -> None:
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "UNKNOWN_SITE" and "hospital-9" in response.json()["detail"]

    for response in _enrol_both_ways(client, ops, "hospital-9", "MRN-U-1"):
        refused(response)
    refused(client.post("/v1/cases", headers=ops, json={**_enrolment("hospital-1", "MRN-U-2"),
                                                        "collection_site": "hospital-9"}))
    refused(client.post("/v1/units", headers=ops, json={"coi": _enrol(client, nurse, "MRN-U-0"),
                                                        "kind": "sample", "site": "hospital-9"}))
    coi = _enrol(client, nurse, "MRN-U-3")
    bag = client.post("/v1/units", headers=nurse, json={"coi": coi, "kind": "apheresis_bag"}).json()
    unit_id, label = bag["answer"]["unit_id"], bag["answer"]["label"]
    refused(client.post("/v1/events", headers=nurse, json={"type": "MaterialCollected", "unit_id": unit_id, "data": {
        "wristband": "MRN-U-3", "material": "leukapheresis", "collection_site": "hospital-9"}}))
    refused(client.post("/v1/events", headers=nurse, json={"type": "CustodyTransferred", "unit_id": unit_id,
                                                           "data": {"to_party": "courier", "location": "hospital-9"}}))
    refused(client.post("/v1/events", headers=nurse, json={"type": "ShipmentDispatched", "unit_id": unit_id, "data": {
        "carrier": "X", "tracking": "T9", "from_site": "hospital-1", "to_site": "hospital-9"}}))
    refused(client.post("/v1/scans", headers=nurse, json={"raw": label, "purpose": "verify",
                                                          "location": "hospital-9"}))
    refused(client.post("/v1/users", headers=admin, json={"user_id": "n9", "printed_name": "N", "roles": ["operator"],
                                                          "sites": ["hospital-9"], "password": "a long password 9"}))

    # Registered by an administrator, the site is known everywhere.
    assert client.post("/v1/sites", headers=admin, json={"site_id": "hospital-9", "name": "Ninth Hospital",
                                                         "kind": "hospital"}).status_code == 201
    for response in _enrol_both_ways(client, ops, "hospital-9", "MRN-U-1"):
        assert response.status_code == 201, response.text
    scan = client.post("/v1/scans", headers=nurse, json={"raw": label, "purpose": "verify", "location": "hospital-9"})
    assert scan.status_code == 201, scan.text
