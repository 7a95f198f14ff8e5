"""Review sign-off and release over HTTP (SQLite and PostgreSQL): each release refusal both ways,
a later exception voiding the sign-off, the sign-off's own refusals, the release summary, its
printable certificate, the figures, and an allogeneic patient's view of its dose."""

from __future__ import annotations

import base64
import re
import zlib
from datetime import UTC, datetime, timedelta

import pytest

from ledger.services.journeys import run_allogeneic_journey
from ledger.streams import case_stream

from .test_journey_http import MRN, Api, iso

QA_NAME = "Dr. Quentin Assurance"


@pytest.fixture
def api(client, login) -> Api:
    return Api(client, login)


def pdf_text(data: bytes) -> str:
    """The text drawn in a reportlab PDF: each page stream (ASCII85 over Flate) decoded, the strings
    of its text operators joined."""
    out = []
    for match in re.finditer(rb"/Filter \[ /ASCII85Decode /FlateDecode \][^>]*>>\s*stream\r?\n(.*?)endstream",
                             data, re.S):
        body = match.group(1).strip()
        body = body[:-2] if body.endswith(b"~>") else body
        content = zlib.decompress(base64.a85decode(body)).decode("latin-1")
        out += [s.replace("\\(", "(").replace("\\)", ")") for s in re.findall(r"\(((?:[^()\\]|\\.)*)\) Tj", content)]
    return "\n".join(out)


def made(api: Api, outputs: int = 4, product: str = "CAR-T", qc: dict | None = None):
    """A case whose lot LOT-R was filled into ``outputs`` final products, each with a passing QC
    result (and ``qc``, if given): (coi, products, times of the collection and of the fill)."""
    coi = api.event("nurse", "CaseEnrolled", {"kind": "autologous", "product": product,
                                              "treating_site": "hospital-1", "mrn": MRN})["answer"]["coi"]
    fresh = {"min_celsius": 2, "max_celsius": 8, "expiry": iso(datetime.now(UTC) + timedelta(days=3))}
    bag = api.event("nurse", "UnitLabelled", {"kind": "apheresis_bag", "spec": fresh}, coi=coi)["answer"]["unit_id"]
    api.event("nurse", "MaterialCollected", {"wristband": MRN, "material": "leukapheresis",
              "collection_site": "hospital-1"}, unit_id=bag)
    collected = api.clock
    api.event("nurse", "CustodyTransferred", {"to_party": "tech", "location": "hospital-1"}, unit_id=bag)
    api.event("tech", "CustodyAcknowledged", {"location": "factory-1"}, unit_id=bag)
    api.event("tech", "ManufacturingStarted", {"lot": "LOT-R", "inputs": [bag], "process": "expansion"}, coi=coi)
    api.event("tech", "ManufacturingStepRecorded", {"lot": "LOT-R", "stage": "expansion"}, coi=coi)
    api.clock += timedelta(hours=20)
    spec = {"qc_required": ["sterility"], "expiry": iso(datetime.now(UTC) + timedelta(days=90))}
    filled = api.event("tech", "ProductFilled", {"lot": "LOT-R", "outputs": [
        {"kind": "final_product_bag", "spec": spec}] * outputs}, coi=coi)["answer"]["outputs"]
    fill_at = api.clock
    for output in filled:
        api.event("tech", "QCResultRecorded", {"test": "sterility", "result": "pass", "value": 0, "uom": "CFU"},
                  unit_id=output["unit_id"])
        if qc is not None:
            api.event("tech", "QCResultRecorded", qc, unit_id=output["unit_id"])
    return coi, filled, collected, fill_at


def release(api: Api, product, expect=201, code=None):
    return api.event("qa", "ProductReleased", {"notes": "meets specification"}, unit_id=product["unit_id"],
                     sign="released", expect=expect, code=code)


def scan(api: Api, client, login, product, purpose="verify", expect_unit=None):
    body = {"raw": f"unit:{product['label']}", "purpose": purpose, "occurred_at": api.at()}
    if expect_unit is not None:
        body["expect"] = {"unit_id": expect_unit["unit_id"]}
    response = client.post("/v1/scans", headers=login("tech"), json=body)
    assert response.status_code == 201, response.text
    return response.json()


def summary(client, login, coi, user="qa") -> dict:
    response = client.get(f"/v1/cases/{coi}/release-summary", headers=login(user))
    assert response.status_code == 200, response.text
    return response.json()


def test_each_release_refusal_names_its_rule_and_lifts_after_the_fix(api, client, login):
    coi, (t, s, p, q), _, _ = made(api)

    # REVIEW_REQUIRED: no sign-off yet; signed: released
    release(api, t, expect=409, code="REVIEW_REQUIRED")
    api.sign_off(coi, lot="LOT-R")
    release(api, t)

    # REVIEW_OUTDATED: an exception raised after the sign-off voids it (here an informational one)
    stale = summary(client, login, coi)["review"]["sign_off_list"]
    scan(api, client, login, s, purpose="infusion")  # the wrong step for an unreleased product
    refused = release(api, s, expect=409, code="REVIEW_OUTDATED")
    assert "scan_wrong_step" in refused["detail"] and s["label"] in refused["detail"]
    # the sign-off lists exactly the family's exceptions now
    api.sign_off(coi, exceptions=stale, expect=409, code="REVIEW_LIST_STALE")
    listed = summary(client, login, coi)["review"]["sign_off_list"]
    assert [(e["state"], e["exception_id"].split(":")[0]) for e in listed] == [("open", "scan_wrong_step")]
    api.sign_off(coi, exceptions=[{**listed[0], "event_hash": "0" * 64}], expect=409, code="REVIEW_LIST_STALE")
    api.sign_off(coi)  # an informational exception may stay open
    release(api, s)

    # EXCEPTION_OPEN: a COI-critical mismatch on each of p and q; the sign-off is refused meanwhile
    on_p = scan(api, client, login, p, expect_unit=q)["event"]["event_id"]  # recorded on p's stream
    scan(api, client, login, q, expect_unit=p)
    refused = release(api, q, expect=409, code="EXCEPTION_OPEN")
    assert "scan_mismatch" in refused["detail"]
    refused = api.sign_off(coi, expect=409, code="REVIEW_INCOMPLETE")
    assert refused["detail"].startswith("2 COI-critical or GMP exception(s)") and "scan_mismatch:" in refused["detail"]
    opened = {e["exception_id"]: e for e in summary(client, login, coi)["exceptions"] if e["state"] == "open"
              and e["severity"] == "coi_critical"}
    assert len(opened) == 2
    qa = login("qa")
    for exception_id, e in opened.items():
        body = {"event_hash": e["event_hash"], "comment": "scan of the neighbouring bag",
                "classification": "product_impact" if e["opened_event_id"] == on_p else "no_impact",
                "esign": {"user_id": "qa", "password": "demo-password-123", "meaning": "reviewed"}}
        answer = client.post(f"/v1/exceptions/{exception_id}/disposition", headers=qa, json=body)
        assert answer.status_code == 201, answer.text
    shown = summary(client, login, coi)["exceptions"]
    classified = {e["classification"] for e in shown if e["kind"] == "scan_mismatch"}
    assert classified == {"product_impact", "no_impact"}
    release(api, q, expect=409, code="REVIEW_OUTDATED")  # dispositioned after the last sign-off
    api.sign_off(coi)
    # PRODUCT_IMPACT: p's own exception; q's was no impact, and p's is not in q's family
    refused = release(api, p, expect=409, code="PRODUCT_IMPACT")
    assert p["label"] in refused["detail"]
    release(api, q)


def test_the_summary_and_its_certificate(api, client, login):
    coi, products, collected, fill_at = made(api, outputs=1)
    (product,) = products
    scan(api, client, login, product, purpose="infusion")
    signed = api.sign_off(coi, lot="LOT-R")
    signed_at = api.clock
    release(api, product)
    released_at = api.clock

    body = summary(client, login, coi, user="auditor")
    assert body["coi"] == coi and body["role"] == "patient" and body["donor_cois"] == []
    assert [(lot["lot"], lot["stages"], lot["site"]) for lot in body["lots"]] == [("LOT-R", ["expansion"],
                                                                                   "factory-1")]
    (shown,) = body["products"]
    assert shown["label"] == product["label"] and shown["lot"] == "LOT-R" and shown["released"]
    assert [(q["test"], q["result"], q["uom"]) for q in shown["qc"]] == [("sterility", "pass", "CFU")]
    assert shown["release"]["signature"]["printed_name"] == QA_NAME
    assert shown["release"]["signature"]["meaning"] == "released"
    (exception,) = body["exceptions"]
    assert (exception["kind"], exception["severity"], exception["state"]) == ("scan_wrong_step", "informational",
                                                                              "open")
    assert body["review"]["signed_off"] and body["review"]["current"]
    assert body["review"]["latest"]["event_id"] == signed["event_id"]
    assert body["review"]["latest"]["printed_name"] == QA_NAME and body["review"]["latest"]["lot"] == "LOT-R"
    assert body["spec_results"] == [] and body["deviations"] == []
    meanings = [(s["type"], s["meaning"], s["printed_name"]) for s in body["signatures"]]
    assert meanings == [("ReviewSignedOff", "reviewed", QA_NAME), ("ProductReleased", "released", QA_NAME)]
    assert all(s["signed_at"].endswith("Z") for s in body["signatures"])
    assert MRN not in str(body)

    # figures: collection -> now (not infused), fill -> the sign-off, fill -> the release
    figures = body["figures"]
    assert figures["manufacturing_end_to_signoff_h"] == round((signed_at - fill_at).total_seconds() / 3600, 1)
    assert figures["manufacturing_end_to_release_h"] == round((released_at - fill_at).total_seconds() / 3600, 1)
    assert figures["manufacturing_end_to_release_h"] > figures["manufacturing_end_to_signoff_h"] > 0
    expected_days = (datetime.now(UTC) - collected).total_seconds() / 86400
    assert abs(figures["needle_to_needle_days"] - expected_days) < 0.02

    pdf = client.get(f"/v1/cases/{coi}/release-summary", params={"format": "pdf"}, headers=login("auditor"))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert f"Certificate of review and release: {coi}" in text
    for sig in body["signatures"]:  # every signature: printed name, time and meaning
        assert f"{QA_NAME} (qa)" in text and sig["signed_at"] in text and sig["meaning"] in text
    assert f"{QA_NAME} (qa), {shown['release']['signature']['signed_at']}, meaning: released" in text
    assert "scan_wrong_step" in text and "LOT-R" in text and product["label"] in text and MRN not in text

    # readers of the audit trail only; another site's staff learn nothing; unknown cases 404
    assert client.get(f"/v1/cases/{coi}/release-summary", headers=login("courier")).status_code == 403
    missing = client.get("/v1/cases/COI-0000-0000-0/release-summary", headers=login("qa"))
    assert missing.status_code == 404 and missing.json()["code"] == "CASE_NOT_FOUND"
    refused = client.post(f"/v1/cases/{coi}/review-signoff", headers=login("nurse"), json={"exceptions": []})
    assert refused.status_code == 403


def test_an_allogeneic_patient_sees_its_dose_qc_and_release_from_the_donor_case(client, login):
    journey = run_allogeneic_journey(client.app.state.container.services)
    donor, patient = journey.coi, journey.extra["patients"][0]
    body = summary(client, login, patient, user="auditor")
    assert body["role"] == "patient" and body["kind"] == "allogeneic" and body["donor_cois"] == [donor]
    (dose,) = body["products"]
    assert dose["coi"] == donor and dose["unit_id"] == str(journey.units["dose_1"])
    assert [(q["test"], q["result"]) for q in dose["qc"]] == [("sterility", "pass")]
    assert dose["release"]["signature"]["printed_name"] == QA_NAME and dose["infused"]
    types = {s["type"] for s in body["signatures"]}
    assert {"ReviewSignedOff", "ProductReleased", "ProductInfused"} <= types
    figures = body["figures"]
    assert figures["needle_to_needle_days"] is None  # the dose came off the shelf
    assert None not in (figures["manufacturing_end_to_release_h"], figures["manufacturing_end_to_signoff_h"])
    assert figures["manufacturing_end_to_signoff_h"] <= figures["manufacturing_end_to_release_h"]
    donor_view = summary(client, login, donor, user="auditor")
    assert donor_view["role"] == "donor" and len(donor_view["products"]) == 2
    assert all(p["released"] for p in donor_view["products"])
    # the demo's bedside checks were recorded after the fact, so their witnesses were missed: those
    # COI-critical exceptions, raised after the lot's sign-off, leave it no longer current
    assert not donor_view["review"]["current"]


def test_spec_results_are_signed_off_and_summarised(api, client, login):
    """The lot's pinned specification judges its QC; the sign-off keeps the results, the summary
    and its certificate show them with their limits."""
    from ledger.services.executor import Context

    services = client.app.state.container.services
    services.identity.create_user(Context(actor="system"), user_id="qa2", printed_name="Quinn Second", roles=["qa"],
                                  sites=["factory-1"], password="demo-password-123")
    services.qualification.qualify(Context(actor="system"), user_id="qa2")
    product = "CAR-T (released)"
    spec = {"version": 1, "qc_tests": [{"test": "viability", "min": 70, "max": 100, "uom": "%"}]}
    assert client.post(f"/v1/products/{product}/specs", headers=login("qa"), json=spec).status_code == 201
    approved = client.post(f"/v1/products/{product}/specs/1/approve", headers=login("qa2"), json={"esign": {
        "user_id": "qa2", "password": "demo-password-123", "meaning": "approved"}})
    assert approved.status_code == 201, approved.text
    coi, (made_one,), _, _ = made(api, outputs=1, product=product,
                                  qc={"test": "viability", "result": "pass", "value": 85, "uom": "%"})
    results = summary(client, login, coi)["spec_results"]
    assert [(r["name"], r["kind"], r["value"], r["verdict"], r["lot"]) for r in results] == [
        ("viability", "qc", 85, "within", "LOT-R")]
    signed = api.sign_off(coi, lot="LOT-R")
    stored = services.reads().envelopes(case_stream(coi))[-1]
    assert stored["event_id"] == signed["event_id"]
    assert stored["data"]["spec_results"] == [{"name": "viability", "kind": "qc", "value": 85, "uom": "%",
                                               "verdict": "within"}]
    release(api, made_one)
    pdf = pdf_text(client.get(f"/v1/cases/{coi}/release-summary", params={"format": "pdf"},
                              headers=login("qa")).content)
    assert "viability" in pdf and "within" in pdf and results[0]["limits"] in pdf
