"""Manufacturing in stages over HTTP: start a lot at the plant, record steps, fill days later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from .test_journey_http import MRN, Api, iso


@pytest.fixture
def api(client, login) -> Api:
    return Api(client, login)


def test_lot_started_stepped_and_filled_over_http(api, client, login):
    coi = api.event("nurse", "CaseEnrolled", {"kind": "autologous", "product": "CAR-T", "treating_site": "hospital-1",
                                              "mrn": MRN})["answer"]["coi"]
    fresh = {"min_celsius": 2, "max_celsius": 8, "expiry": iso(datetime.now(UTC) + timedelta(days=3))}
    bag = api.event("nurse", "UnitLabelled", {"kind": "apheresis_bag", "spec": fresh}, coi=coi)["answer"]["unit_id"]
    api.event("nurse", "MaterialCollected", {"wristband": MRN, "material": "leukapheresis",
              "collection_site": "hospital-1"}, unit_id=bag)
    api.event("nurse", "CustodyTransferred", {"to_party": "tech", "location": "hospital-1"}, unit_id=bag)
    api.event("tech", "CustodyAcknowledged", {"location": "factory-1"}, unit_id=bag)

    start = {"lot": "LOT-7", "inputs": [bag], "process": "transduction-expansion"}
    product = [{"kind": "final_product_bag", "spec": {"qc_required": ["sterility"],
                                                      "expiry": iso(datetime.now(UTC) + timedelta(days=90))}}]
    api.event("courier", "ManufacturingStarted", start, coi=coi, expect=403)  # not a role of the plant
    api.event("nurse", "ManufacturingStarted", start, coi=coi, expect=409, code="NOT_A_MANUFACTURING_SITE")
    api.event("tech", "ProductFilled", {"lot": "LOT-7", "outputs": product}, coi=coi,
              expect=409, code="LOT_NOT_STARTED")
    api.event("tech", "ManufacturingStarted", {**start, "lot": "bad lot"}, coi=coi, expect=422)
    lot = api.event("tech", "ManufacturingStarted", start, coi=coi)["answer"]["lot_id"]
    api.event("tech", "UnitsDerived", {"inputs": [bag], "outputs": product, "process": "p"}, coi=coi,
              expect=409, code="UNIT_CONSUMED")
    api.event("tech", "ManufacturingStepRecorded", {"lot": "LOT-7", "stage": "expansion"}, coi=coi)
    api.clock += timedelta(hours=30)  # expansion (the clock stays in the past: occurred_at may not lie ahead)
    api.event("integrator", "ManufacturingStepRecorded", {"lot": "LOT-7", "stage": "harvest",
                                                          "notes": "from the MES"}, coi=coi)
    filled = api.event("tech", "ProductFilled", {"lot": "LOT-7", "outputs": product}, coi=coi)
    (output,) = filled["answer"]["outputs"]
    assert filled["answer"]["lot_id"] == lot

    unit = client.get(f"/v1/units/{output['unit_id']}", headers=login("tech")).json()
    assert unit["parents"] == [lot] and dict(unit["identifiers"])["lot"] == "LOT-7"
    graph = client.get(f"/v1/cases/{coi}/genealogy", headers=login("qa"),
                       params={"min_position": filled["position"]}).json()
    node = next(n for n in graph["nodes"] if n["id"] == lot)
    assert (node["type"], node["label"], node["status"]) == ("lot", "LOT-7", "filled")
    derived = {(e["from"], e["to"]) for e in graph["edges"] if e["relation"] == "derived"}
    assert derived == {(bag, lot), (lot, output["unit_id"])}

    api.event("tech", "QCResultRecorded", {"test": "sterility", "result": "pass"}, unit_id=output["unit_id"])
    api.sign_off(coi, lot="LOT-7")
    api.event("qa", "ProductReleased", {"notes": "ok"}, unit_id=output["unit_id"], sign="released")
    trail = client.get("/v1/audit-trail", headers=login("qa"), params={"coi": coi}).json()["items"]
    whats = [r["what"] for r in trail if r["stream"] == lot]
    assert whats == ["lot LOT-7 started at factory-1 (transduction-expansion): 1 input(s) consumed",
                     "lot LOT-7: expansion", "lot LOT-7: harvest", "lot LOT-7 filled into 1 unit(s)"]
