"""Product specifications over real HTTP (SQLite and PostgreSQL): QA defines a version, another
qualified QA person approves it with an e-signature; the version in force is pinned to a lot at
its start; QC results and process parameters are judged against it; release is refused while a
result is out of the pinned limits (SPEC_OUT_OF_LIMITS) or a required test is missing (QC_MISSING),
and allowed when everything is within."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from ledger.services.executor import Context
from ledger.services.journeys import DEMO_PASSWORD
from ledger.streams import lot_stream

from .test_journey_http import MRN, Api, iso

QA2 = "qa2"
PRODUCT = "CAR-T (spec)"
SPEC = {
    "version": 1,
    "qc_tests": [{"test": "viability", "min": 70, "max": 100, "uom": "%"},
                 {"test": "sterility", "expected": "negative"},
                 {"test": "mycoplasma", "required": False}],
    "parameters": [{"name": "moi", "kind": "cpp", "min": 1, "max": 5},
                   {"name": "vcn", "kind": "cqa", "max": 5, "uom": "copies/cell"}],
    "shelf_lives": {"final_product_bag": 4320},
    "process_durations": {"expansion": 168},
}


@pytest.fixture
def api(client, login) -> Api:
    services = client.app.state.container.services
    services.identity.create_user(Context(actor="system"), user_id=QA2, printed_name="Quinn Second", roles=["qa"],
                                  sites=["factory-1"], password=DEMO_PASSWORD)
    services.qualification.qualify(Context(actor="system"), user_id=QA2)
    return Api(client, login)


def esign(user: str, meaning: str = "approved") -> dict:
    return {"user_id": user, "password": DEMO_PASSWORD, "meaning": meaning}


def post(client, login, user, path, body, expect, code=None):
    response = client.post(path, headers=login(user), json=body)
    assert response.status_code == expect, response.text
    if code:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == code, response.json()
    return response.json()


def approved_spec(client, login, spec=SPEC, product=PRODUCT) -> None:
    post(client, login, "qa", f"/v1/products/{product}/specs", spec, 201)
    post(client, login, QA2, f"/v1/products/{product}/specs/{spec['version']}/approve", {"esign": esign(QA2)}, 201)


def test_a_spec_is_defined_and_approved_by_another_qualified_qa(api, client, login):
    path = f"/v1/products/{PRODUCT}/specs"
    post(client, login, "tech", path, SPEC, 403)  # not QA
    post(client, login, "qa", path, {**SPEC, "version": 2}, 409, "SPEC_VERSION_SEQUENCE")
    post(client, login, "qa", path, {**SPEC, "qc_tests": [{"test": "x", "min": 5, "max": 1}]}, 422)
    post(client, login, "qa", path, {**SPEC, "qc_tests": [{"test": "x", "min": 1, "expected": "y"}]}, 422)
    post(client, login, "qa", path, {**SPEC, "parameters": [{"name": "p", "kind": "cpp"}] * 2}, 422)
    post(client, login, "qa", path, {**SPEC, "esign": esign("qa", "approved")}, 422, "WRONG_SIGNATURE_MEANING")
    defined = post(client, login, "qa", path, {**SPEC, "esign": esign("qa", "authored")}, 201)
    assert defined["answer"] == {"product": PRODUCT, "version": 1}
    assert client.get(path, headers=login("nurse")).json()["in_force"] is None

    approve = f"{path}/1/approve"
    post(client, login, "qa", approve, {"esign": esign("qa")}, 409, "SELF_APPROVAL")
    post(client, login, "tech", approve, {"esign": esign("tech")}, 403)
    post(client, login, QA2, approve, {}, 409, "ESIGNATURE_REQUIRED")
    post(client, login, QA2, approve, {"esign": esign(QA2, "reviewed")}, 422, "WRONG_SIGNATURE_MEANING")
    post(client, login, QA2, f"{path}/7/approve", {"esign": esign(QA2)}, 404, "SPEC_NOT_FOUND")
    approval = post(client, login, QA2, approve, {"esign": esign(QA2)}, 201)
    post(client, login, "qa", approve, {"esign": esign("qa")}, 409, "SPEC_ALREADY_APPROVED")

    listed = client.get(path, headers=login("auditor")).json()
    assert listed["in_force"] == 1
    (v1,) = listed["versions"]
    assert (v1["status"], v1["defined_by"], v1["approved_by"]) == ("approved", "qa", QA2)
    assert [c["limits"] for c in v1["qc_tests"]] == ["70..100 %", "= negative", "-"]
    assert [p["limits"] for p in v1["parameters"]] == ["1..5", "<= 5 copies/cell"]
    assert client.get(f"{path}/1", headers=login("nurse")).json() == v1
    assert client.get(f"{path}/2", headers=login("nurse")).status_code == 404
    assert client.get("/v1/products/unknown/specs", headers=login("nurse")).json()["code"] == "SPEC_NOT_FOUND"
    trail = client.get("/v1/audit-trail", headers=login("auditor"),
                       params={"min_position": approval["position"]}).json()["items"]
    assert "specification CAR-T (spec) v1 approved" in [r["what"] for r in trail]


def started_lot(api: Api, lot: str = "LOT-S1") -> tuple[str, str]:
    coi = api.event("nurse", "CaseEnrolled", {"kind": "autologous", "product": PRODUCT, "treating_site": "hospital-1",
                                              "mrn": MRN})["answer"]["coi"]
    fresh = {"min_celsius": 2, "max_celsius": 8, "expiry": iso(datetime.now(UTC) + timedelta(days=3))}
    bag = api.event("nurse", "UnitLabelled", {"kind": "apheresis_bag", "spec": fresh}, coi=coi)["answer"]["unit_id"]
    api.event("nurse", "MaterialCollected", {"wristband": MRN, "material": "leukapheresis",
              "collection_site": "hospital-1"}, unit_id=bag)
    api.event("nurse", "CustodyTransferred", {"to_party": "tech", "location": "hospital-1"}, unit_id=bag)
    api.event("tech", "CustodyAcknowledged", {"location": "factory-1"}, unit_id=bag)
    api.event("tech", "ManufacturingStarted", {"lot": lot, "inputs": [bag], "process": "tx"}, coi=coi)
    return coi, lot


def fill(api: Api, coi: str, lot: str) -> str:
    outputs = [{"kind": "final_product_bag", "spec": {"min_celsius": -196, "max_celsius": -150}}]
    return api.event("tech", "ProductFilled", {"lot": lot, "outputs": outputs}, coi=coi)["answer"]["outputs"][0][
        "unit_id"]


def exceptions(client, login, coi: str) -> list[dict]:
    last = client.app.state.container.ledger.last_position()
    return [e for e in client.get("/v1/exceptions", headers=login("qa"),
                                  params={"coi": coi, "min_position": last}).json()
            if e["kind"] == "spec_out_of_limits"]


def test_lot_pinned_results_judged_and_release_refused_out_of_limits(api, client, login):
    approved_spec(client, login)
    reads = client.app.state.container.services.reads
    coi, lot = started_lot(api)
    assert reads().unit(lot_stream(coi, lot)).spec_version == 1  # pinned at the start
    # a version approved later does not move the lot
    approved_spec(client, login, {**SPEC, "version": 2, "parameters": [{"name": "moi", "kind": "cpp", "max": 50}]})

    out = api.event("tech", "ProcessParameterRecorded", {"lot": lot, "parameter": "moi", "value": 7}, coi=coi)
    event = reads().envelopes(lot_stream(coi, lot))[-1]
    assert event["event_id"] == out["event_id"]
    assert (event["data"]["spec_version"], event["data"]["within_limits"], event["data"]["limits"]) == (
        1, False, {"min": 1, "max": 5})
    api.event("tech", "ProcessParameterRecorded", {"lot": lot, "parameter": "vcn", "value": 2, "uom": "%"}, coi=coi,
              expect=409, code="SPEC_UOM_MISMATCH")
    api.event("tech", "ProcessParameterRecorded", {"lot": lot, "parameter": "vcn", "value": 5}, coi=coi)  # inclusive
    api.event("tech", "ProcessParameterRecorded", {"lot": lot, "parameter": "other", "value": 1}, coi=coi)
    api.event("courier", "ProcessParameterRecorded", {"lot": lot, "parameter": "moi", "value": 3}, coi=coi,
              expect=403)
    raised = exceptions(client, login, coi)
    assert [(e["severity"], e["detail"]) for e in raised] == [
        ("gmp", "lot LOT-S1: moi = 7 (limits 1..5) out of specification v1")]
    assert raised[0]["exception_id"] == f"spec_out_of_limits:{out['event_id']}"

    product = fill(api, coi, lot)
    filled_at = reads().unit(UUID(product)).spec.expiry
    assert filled_at is not None and abs(filled_at - (api.clock + timedelta(hours=4320))) < timedelta(minutes=1)

    api.event("tech", "QCResultRecorded", {"test": "sterility", "result": "pass"}, unit_id=product,
              expect=409, code="SPEC_VALUE_REQUIRED")
    api.event("tech", "QCResultRecorded", {"test": "viability", "result": "pass", "value": 90, "uom": "cells"},
              unit_id=product, expect=409, code="SPEC_UOM_MISMATCH")
    api.event("tech", "QCResultRecorded", {"test": "viability", "result": "pass", "value": 90}, unit_id=product)
    api.event("qa", "ProductReleased", {}, unit_id=product, sign="released", expect=409, code="QC_MISSING")
    api.event("tech", "QCResultRecorded", {"test": "sterility", "result": "pass", "value": "Negative"},
              unit_id=product)
    # moi's latest value (7) is out of limits
    refused = api.event("qa", "ProductReleased", {}, unit_id=product, sign="released", expect=409,
                        code="SPEC_OUT_OF_LIMITS")
    assert "moi = 7 (1..5)" in refused["detail"]

    api.event("tech", "QCResultRecorded", {"test": "viability", "result": "pass", "value": 69.99}, unit_id=product)
    qc = reads().envelopes(UUID(product))[-1]["data"]
    assert (qc["within_limits"], qc["spec_version"], qc["uom"]) == (False, 1, "%")
    assert len(exceptions(client, login, coi)) == 2


def test_release_allowed_when_every_result_is_within_the_pinned_spec(api, client, login):
    approved_spec(client, login)
    coi, lot = started_lot(api, "LOT-S2")
    api.event("tech", "ProcessParameterRecorded", {"lot": lot, "parameter": "moi", "value": 1}, coi=coi)
    product = fill(api, coi, lot)
    api.event("tech", "QCResultRecorded", {"test": "viability", "result": "pass", "value": 100, "uom": "%"},
              unit_id=product)
    api.event("tech", "QCResultRecorded", {"test": "sterility", "result": "pass", "value": "negative"},
              unit_id=product)
    api.sign_off(coi)  # QA's review sign-off precedes every release
    api.event("qa", "ProductReleased", {}, unit_id=product, sign="released")
    assert exceptions(client, login, coi) == []


def test_the_demo_product_has_an_approved_spec_pinned_to_its_lot(client, login):
    from ledger.services.journeys import DEMO_PRODUCT, run_autologous_journey

    services = client.app.state.container.services
    journey = run_autologous_journey(services)
    spec = client.get(f"/v1/products/{DEMO_PRODUCT}/specs", headers=login("tech")).json()
    assert spec["in_force"] == 1
    assert (spec["versions"][0]["defined_by"], spec["versions"][0]["approved_by"]) == ("qa-lead", "qa")
    lot = services.reads().unit(journey.units["lot"])
    assert lot.spec_version == 1 and [p.within_limits for p in lot.parameters] == [True, True]
    assert services.reads().unit(journey.units["final_product"]).released
    again = run_autologous_journey(services, mrn="MRN-0042-7782")  # the spec in force is kept
    assert services.products.state(DEMO_PRODUCT).latest == 1
    assert services.reads().unit(again.units["lot"]).spec_version == 1
