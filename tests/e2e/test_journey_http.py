"""The needle-to-needle journey over HTTP, with every operational refusal a user can meet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.services.journeys import DEMO_PASSWORD
from tests.support import disposition_open, sign_off_review

MRN, WRONG_MRN = "MRN-0042-7781", "MRN-9999-0001"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Api:
    def __init__(self, client, login):
        self.client, self.login = client, login
        # about 35 hours of steps, within LEDGER_BACKFILL_HOURS: couriers and clinicians post too
        self.clock = datetime.now(UTC) - timedelta(hours=60)

    def at(self, minutes: int = 5) -> str:
        self.clock += timedelta(minutes=minutes)
        return iso(self.clock)

    def event(self, user, type_, data, *, expect=201, code=None, sign=None, password=DEMO_PASSWORD, **target):
        body = {"type": type_, "data": data, "occurred_at": self.at(), **target}
        if sign:
            body["esign"] = {"user_id": user, "password": password, "meaning": sign}
        response = self.client.post("/v1/events", headers=self.login(user), json=body)
        assert response.status_code == expect, response.text
        if code:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["code"] == code, response.json()
        return response.json()

    def sign_off(self, coi, *, user="qa", **kwargs):
        """QA's review sign-off of the case (the release summary's list, e-signed ``reviewed``)."""
        return sign_off_review(self.client, self.login(user), coi, user=user, occurred_at=self.at(), **kwargs)

    def disposition(self, coi, *, kind=None, user="qa", **kwargs):
        """QA dispositions the case's open COI-critical and GMP exceptions (``no_impact`` by default)."""
        return disposition_open(self.client, self.login(user), coi, kind=kind, user=user, **kwargs)


@pytest.fixture
def api(client, login):
    return Api(client, login)


@pytest.mark.req("URS-P11-10f", "URS-P11-200")
def test_the_demo_journey_and_its_refusals_over_http(api, client, login):
    coi = api.event("nurse", "CaseEnrolled", {"kind": "autologous", "product": "CAR-T", "treating_site": "hospital-1",
                                              "mrn": MRN})["answer"]["coi"]
    fresh = {"min_celsius": 2, "max_celsius": 8, "expiry": iso(datetime.now(UTC) + timedelta(days=3))}
    bag = api.event("nurse", "UnitLabelled", {"kind": "apheresis_bag", "spec": fresh}, coi=coi)["answer"]["unit_id"]
    shipper = api.event("nurse", "UnitLabelled", {"kind": "shipper"}, coi=coi)["answer"]["unit_id"]

    # Wrong patient at the chair: recorded, then refused.
    refused = api.event("nurse", "MaterialCollected", {"wristband": WRONG_MRN, "material": "leukapheresis",
                        "collection_site": "hospital-1"}, unit_id=bag, expect=409, code="COI_MISMATCH")
    assert refused["recorded_event"]
    api.event("nurse", "MaterialCollected", {"wristband": MRN, "material": "leukapheresis",
              "collection_site": "hospital-1"}, unit_id=bag)
    api.event("nurse", "PackedInto", {"container_id": shipper}, unit_id=bag)
    # (the courier and the factory's tech may not act on the shipper before it is offered to them: SITE_FORBIDDEN)
    api.event("clinician", "CustodyTransferred", {"to_party": "tech"}, unit_id=shipper,
              expect=409, code="NOT_CUSTODIAN")
    api.event("nurse", "CustodyTransferred", {"to_party": "courier", "location": "hospital-1"}, unit_id=shipper)
    api.event("nurse", "CustodyTransferred", {"to_party": "tech"}, unit_id=shipper, expect=409, code="TRANSFER_PENDING")
    api.event("clinician", "CustodyAcknowledged", {}, unit_id=shipper, expect=409, code="NOT_RECEIVER")
    api.event("courier", "CustodyAcknowledged", {"condition": "sealed"}, unit_id=shipper)
    api.event("nurse", "CustodyTransferred", {"to_party": "tech"}, unit_id=shipper, expect=409, code="NOT_CUSTODIAN")
    api.event("courier", "ShipmentDispatched", {"carrier": "X", "tracking": "T1", "from_site": "hospital-1",
                                                "to_site": "factory-1"}, unit_id=shipper)
    start = api.clock
    readings = [{"t": iso(start + timedelta(minutes=i)), "celsius": 9.5 if 30 <= i < 36 else 4.0} for i in range(2000)]
    api.clock = start + timedelta(minutes=2001)
    upload = client.post(f"/v1/units/{shipper}/temperatures", headers=login("courier"),
                         json={"logger_id": "LOG-1", "readings": readings})
    assert upload.status_code == 201, upload.text
    assert any(e["stream"] == bag for e in upload.json()["events"])  # the excursion lands on the bag too
    api.event("courier", "ShipmentDelivered", {"tracking": "T1", "to_site": "factory-1"}, unit_id=shipper)
    api.event("courier", "CustodyTransferred", {"to_party": "tech"}, unit_id=shipper)
    api.event("tech", "CustodyAcknowledged", {}, unit_id=shipper)
    api.event("tech", "UnpackedFrom", {"container_id": shipper}, unit_id=bag)

    expiry = iso(datetime.now(UTC) + timedelta(days=90))
    outputs = [{"kind": "final_product_bag", "spec": {"qc_required": ["sterility"], "expiry": expiry}}] * 2
    derived = api.event("tech", "UnitsDerived", {"inputs": [bag], "outputs": outputs, "process": "expansion"}, coi=coi)
    product, spare = (o["unit_id"] for o in derived["answer"]["outputs"])

    api.event("qa", "ProductReleased", {}, unit_id=product, sign="released", expect=409, code="EXCURSION_UNASSESSED")
    excursion = client.get(f"/v1/units/{bag}", headers=login("qa")).json()["excursions"][0]["id"]
    api.event("qa", "ExcursionAssessed", {"excursion_id": excursion, "decision": "use", "rationale": "6 min at 9.5"},
              unit_id=bag, sign="assessed", password="not-the-password", expect=401, code="INVALID_CREDENTIALS")
    api.event("qa", "ExcursionAssessed", {"excursion_id": excursion, "decision": "use", "rationale": "6 min at 9.5"},
              unit_id=bag, sign="assessed")
    api.event("qa", "ProductReleased", {}, unit_id=product, sign="released", expect=409, code="QC_MISSING")
    api.event("tech", "QCResultRecorded", {"test": "sterility", "result": "pass"}, unit_id=product)
    api.event("tech", "QCResultRecorded", {"test": "sterility", "result": "fail"}, unit_id=spare)
    api.event("qa", "ProductReleased", {}, unit_id=spare, sign="released", expect=409, code="QC_FAILED")
    api.event("courier", "ProductReleased", {}, unit_id=product, expect=403, code="FORBIDDEN")
    # review by exception: the wrong wristband at collection and the spare's failed QC are open
    api.event("qa", "ProductReleased", {}, unit_id=product, sign="released", expect=409, code="EXCEPTION_OPEN")
    api.sign_off(coi, expect=409, code="REVIEW_INCOMPLETE")
    assert {x.split(":")[0] for x in api.disposition(coi)} == {"operation_refused", "qc_failed"}
    api.event("qa", "ProductReleased", {}, unit_id=product, sign="released", expect=409, code="REVIEW_REQUIRED")
    api.sign_off(coi)
    api.event("qa", "ProductReleased", {}, unit_id=product, expect=409, code="ESIGNATURE_REQUIRED")

    infuse = {"coi": coi, "wristband": MRN, "bag_coi": coi}
    api.event("tech", "CustodyTransferred", {"to_party": "clinician"}, unit_id=product)
    api.event("clinician", "CustodyAcknowledged", {}, unit_id=product)
    api.event("clinician", "ProductInfused", infuse, unit_id=product, sign="administered",
              expect=409, code="INFUSION_BEFORE_RELEASE")
    released = api.event("qa", "ProductReleased", {"notes": "ok"}, unit_id=product, sign="released")
    assert released["event_id"]
    api.event("clinician", "ProductInfused", {**infuse, "wristband": WRONG_MRN}, unit_id=product,
              sign="administered", expect=409, code="COI_MISMATCH")
    api.event("clinician", "ProductInfused", infuse, unit_id=product, sign="administered")

    api.event("qa", "UnitDisposed", {"reason": "failed QC"}, unit_id=spare)
    api.event("tech", "CustodyTransferred", {"to_party": "courier"}, unit_id=spare, expect=409, code="UNIT_DISPOSED")

    old = api.event("nurse", "UnitLabelled", {"kind": "final_product_bag", "spec": {  # expired when released
        "expiry": iso(api.clock - timedelta(days=1))}}, coi=coi)["answer"]["unit_id"]
    api.event("qa", "ProductReleased", {}, unit_id=old, sign="released", expect=409, code="UNIT_EXPIRED")

    case = client.get(f"/v1/cases/{coi}", headers=login("auditor")).json()
    assert case["refusals"] == 2  # the wrong wristband at collection and at infusion


def test_idempotency_keys_replay_and_refuse_other_bodies(client, login):
    body = {"kind": "autologous", "product": "CAR-T", "treating_site": "hospital-1", "mrn": "MRN-1"}
    headers = {**login("nurse"), "Idempotency-Key": "ehr-42"}
    first = client.post("/v1/cases", headers=headers, json=body)
    again = client.post("/v1/cases", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json()["answer"]["coi"] == first.json()["answer"]["coi"]
    assert again.json()["event_id"] == first.json()["event_id"] and again.json()["replayed"]
    other = client.post("/v1/cases", headers=headers, json={**body, "mrn": "MRN-2"})
    assert other.status_code == 409 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_bad_input_gets_a_problem_never_a_500(client, login):
    nurse = login("nurse")
    cases = [
        client.post("/v1/events", headers=nurse, json={"type": "Teleported", "data": {}}),
        client.post("/v1/events", headers=nurse, content=b"{not json", ),
        client.post("/v1/events", headers=nurse, json={"type": "CaseEnrolled", "data": {"kind": "autologous"}}),
        client.post("/v1/events", headers=nurse, json={"type": "CaseOnHold", "coi": "COI-0000-0000-0",
                                                       "data": {"reason": "x"}}),
        client.post("/v1/units", headers=nurse, json={"coi": "nope", "kind": "apheresis_bag"}),
        client.post("/v1/events", headers=nurse, json={"type": "CaseEnrolled", "occurred_at": "2026-01-01T10:00:00",
                    "data": {"kind": "autologous", "product": "p", "treating_site": "hospital-1", "mrn": "m"}}),
        client.get("/v1/units/not-a-uuid", headers=nurse),
        # found by R5's full form: an integer JSON cannot carry exactly, inside a body whose
        # Idempotency-Key digest is computed first; a time that overflows once in UTC
        client.post("/v1/events/batch", headers={**nurse, "Idempotency-Key": "big-int"},
                    json={"events": [{"type": "CaseOnHold", "coi": "COI-0000-0000-0",
                                      "data": {"reason": "x", "n": 2**53}}]}),
        client.post("/v1/units", headers=nurse, json={"coi": "COI-0000-0000-0", "kind": "apheresis_bag",
                                                      "occurred_at": "0001-01-01T00:00:00+01:00"}),
    ]
    for response in cases:
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"]


@pytest.mark.req("URS-P11-10e", "URS-ALCOA-AVAIL")
def test_auditor_reads_genealogy_custody_conditions_and_the_trail(client, login):
    """The demo journey, then what an auditor and QA see through the read models."""
    from ledger.services.journeys import run_autologous_journey

    services = client.app.state.container.services
    journey = run_autologous_journey(services)
    position = services.ledger.last_position()
    auditor = login("auditor")

    genealogy = client.get(f"/v1/cases/{journey.coi}/genealogy", params={"min_position": position}, headers=auditor)
    assert genealogy.status_code == 200, genealogy.text
    graph = genealogy.json()
    kinds = {n["kind"] for n in graph["nodes"] if n["type"] == "unit"}
    assert {"apheresis_bag", "final_product_bag", "shipper"} <= kinds
    assert any(n["type"] == "infusion" for n in graph["nodes"])
    assert {"labelled", "derived", "infused"} <= {e["relation"] for e in graph["edges"]}

    bag, product = journey.units["apheresis_bag"], journey.units["final_product"]
    custody = client.get(f"/v1/units/{journey.units['shipper']}/custody", headers=auditor).json()
    holders = [i["holder"] for i in custody["intervals"]]
    handovers = [h for i, h in enumerate(holders) if i == 0 or holders[i - 1] != h]
    assert handovers[:3] == ["nurse", "courier", "tech"]
    conditions = client.get(f"/v1/units/{bag}/conditions", headers=auditor).json()
    assert conditions["excursions"][0]["status"] == "use"
    assert conditions["excursions"][0]["max_celsius"] == 9.5
    assert client.get(f"/v1/units/{product}/genealogy", headers=auditor).status_code == 200

    trail = client.get("/v1/audit-trail", params={"coi": journey.coi, "limit": 500}, headers=auditor).json()
    types = [row["type"] for row in trail["items"]]
    assert "OperationRefused" in types and "ProductReleased" in types
    signed = [row for row in trail["items"] if row["signature"]]
    assert {s["signature"]["meaning"] for s in signed} >= {"assessed", "released", "administered"}
    assert all(s["signature"]["printed_name"] for s in signed)
    csv = client.get("/v1/audit-trail", params={"coi": journey.coi, "format": "csv"}, headers=auditor)
    assert csv.status_code == 200 and "Dr. Quentin Assurance" in csv.text and "OperationRefused" in csv.text
    review = client.get("/v1/exceptions", params={"coi": journey.coi, "state": "all"}, headers=login("qa")).json()
    assert {"operation_refused"} <= {e["kind"] for e in review}
    assert client.get("/v1/audit-trail", headers=login("courier")).status_code == 403
    listed = client.get("/v1/cases", params={"min_position": position}, headers=auditor).json()
    assert journey.coi in {c["coi"] for c in listed["items"]}


@pytest.mark.req("URS-COI-1")
def test_scan_to_verify_at_handoff_and_a_refused_wrong_bag(client, login):
    from ledger.services import Context
    from ledger.services.journeys import run_autologous_journey
    from scanners.own import ldg1_payload

    services = client.app.state.container.services
    first = run_autologous_journey(services)
    other = run_autologous_journey(services, mrn="MRN-7777-1234")
    spare = services.units.state(first.units["spare_product"])
    services.units.handover(Context(actor="tech", site="factory-1"), unit_id=spare.stream, to_party="courier")
    courier = login("courier")  # the recipient of the handover: custody gives it the unit's scope
    ok = client.post("/v1/scans", headers=courier, json={
        "raw": "]Q1" + ldg1_payload(spare.label, spare.coi), "purpose": "verify", "expect": {"coi": first.coi}})
    assert ok.status_code == 201, ok.text
    assert (ok.json()["verdict"], ok.json()["coi"]) == ("match", first.coi)
    wrong = client.post("/v1/scans", headers=login("clinician"), json={
        "raw": ldg1_payload(spare.label, spare.coi), "purpose": "infusion", "expect": {"coi": other.coi}})
    assert wrong.status_code == 409 and wrong.json()["code"] == "COI_MISMATCH"
    scans = [e for e in services.ledger.read_stream(first.units["spare_product"]) if e.type == "UnitScanned"]
    assert [s.envelope["data"]["verdict"] for s in scans] == ["match", "mismatch"]


def test_an_isbt_din_on_the_label_resolves_a_scan(client, login):
    nurse = login("nurse")
    coi = client.post("/v1/cases", headers=nurse, json={"kind": "autologous", "product": "CAR-T",
                      "treating_site": "hospital-1", "mrn": "MRN-D-1"}).json()["answer"]["coi"]
    labelled = client.post("/v1/units", headers=nurse, json={"coi": coi, "kind": "apheresis_bag",
                                                             "identifiers": {"din": "A999917123456"}}).json()
    assert client.app.state.container.wait_for(labelled["position"], timeout=5)
    scan = client.post("/v1/scans", headers=nurse, json={"raw": "=A99991712345600", "purpose": "collection",
                                                         "expect": {"coi": coi}})
    assert scan.status_code == 201, scan.text
    assert (scan.json()["unit_id"], scan.json()["verdict"]) == (labelled["answer"]["unit_id"], "match")


def test_a_retried_refused_request_replays_the_refusal_without_recording_it_twice(client, login):
    from ledger.streams import case_stream

    nurse = {**login("nurse"), "Idempotency-Key": "chair-scan-7"}
    coi = client.post("/v1/cases", headers=login("nurse"), json={
        "kind": "autologous", "product": "p", "treating_site": "hospital-1", "mrn": "MRN-R-1"}).json()["answer"]["coi"]
    bag = client.post("/v1/units", headers=login("nurse"), json={"coi": coi, "kind": "apheresis_bag"}).json()
    occurred = (datetime.now(UTC) - timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    occurred_at = occurred.isoformat().replace("+00:00", "Z")
    body = {"type": "MaterialCollected", "unit_id": bag["answer"]["unit_id"], "occurred_at": occurred_at,
            "data": {"wristband": "MRN-WRONG", "material": "leukapheresis", "collection_site": "hospital-1"}}
    first = client.post("/v1/events", headers=nurse, json=body)
    again = client.post("/v1/events", headers=nurse, json=body)
    assert first.status_code == again.status_code == 409
    assert first.json()["code"] == again.json()["code"] == "COI_MISMATCH"
    assert first.json()["recorded_event"] == again.json()["recorded_event"]
    refusals = [e for e in client.app.state.container.ledger.read_stream(case_stream(coi))
                if e.type == "OperationRefused"]
    assert len(refusals) == 1 and refusals[0].envelope["occurred_at"] == occurred_at.replace("Z", ".000000Z")


def test_an_oversized_request_is_refused_before_it_is_read(client, login):
    huge = b"{" + b" " * (33 * 1024 * 1024) + b"}"
    response = client.post("/v1/events", headers={**login("nurse"), "Content-Type": "application/json"}, content=huge)
    assert response.status_code == 413 and response.json()["code"] == "PAYLOAD_TOO_LARGE"
