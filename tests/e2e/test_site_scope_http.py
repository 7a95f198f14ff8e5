"""Site scope of writes, over HTTP: staff bound to one site act only on cases and units that
involve it (or that are in their custody); another hospital's staff, integrator or scanner is
refused with 403 ``SITE_FORBIDDEN`` and nothing is appended, by every write path (dedicated
routes, ``/v1/events``, the batch, EPCIS capture, scans, corrections). The legitimate paths still
work: own staff, the factory on units shipped to it, the courier on what it carries."""

from __future__ import annotations

import json

import pytest

from ledger.services.executor import Context
from ledger.services.journeys import DEMO_PASSWORD, run_autologous_journey
from scanners.own import ldg1_payload
from tests.support import last_record_by_people

from .test_journey_http import MRN, WRONG_MRN, Api

OTHER = "hospital-2"
OTHER_STAFF = {"nurse2": "operator", "clinician2": "clinician", "qa2": "qa", "integrator2": "integrator"}


@pytest.fixture
def api(client, login) -> Api:
    services = client.app.state.container.services
    system = Context(actor="system")
    services.identity.register_site(system, site_id=OTHER, name="Second Hospital", kind="hospital")
    for user, role in OTHER_STAFF.items():
        services.identity.create_user(system, user_id=user, printed_name=user, roles=[role], sites=[OTHER],
                                      password=DEMO_PASSWORD)
        services.qualification.qualify(system, user_id=user)
    for user in [*OTHER_STAFF, "nurse", "clinician", "integrator", "tech", "qa", "courier"]:
        login(user)  # signing in appends events: done before anything is counted
    return Api(client, login)


@pytest.fixture
def case(api):
    """A case of hospital-1 and a bag labelled for it, by its own nurse."""
    coi = api.event("nurse", "CaseEnrolled", {"kind": "autologous", "product": "CAR-T",
                                              "treating_site": "hospital-1", "mrn": MRN})["answer"]["coi"]
    bag = api.event("nurse", "UnitLabelled", {"kind": "apheresis_bag"}, coi=coi)["answer"]["unit_id"]
    return coi, bag


def last(client) -> int:
    return last_record_by_people(client.app.state.container.ledger)


def refused(client, response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "SITE_FORBIDDEN", response.text


@pytest.mark.req("URS-A11-12")
def test_another_hospital_may_not_hold_cancel_quarantine_or_fail_qc(api, client, case):
    coi, bag = case
    before = last(client)
    attacks = [("nurse2", "CaseOnHold", {"reason": "r"}, {"coi": coi}),
               ("clinician2", "CaseCancelled", {"reason": "r"}, {"coi": coi}),
               ("qa2", "UnitQuarantined", {"reason": "r"}, {"unit_id": bag}),
               ("nurse2", "QCResultRecorded", {"test": "sterility", "result": "fail"}, {"unit_id": bag})]
    for user, type_, data, target in attacks:
        api.event(user, type_, data, expect=403, code="SITE_FORBIDDEN", **target)
        api.event(user, type_, data, expect=403, code="SITE_FORBIDDEN", site=OTHER, **target)  # naming its own
        api.event(user, type_, data, expect=403, code="SITE_FORBIDDEN", site="hospital-1", **target)
    assert last(client) == before
    # the case's own staff still can
    api.event("nurse", "CaseOnHold", {"reason": "patient unwell"}, coi=coi)
    api.event("nurse", "CaseResumed", {"reason": "recovered"}, coi=coi)
    api.event("nurse", "QCResultRecorded", {"test": "sterility", "result": "fail"}, unit_id=bag)
    api.event("nurse", "UnitQuarantined", {"reason": "failed QC"}, unit_id=bag)
    api.event("clinician", "CaseCancelled", {"reason": "withdrawn"}, coi=coi)


def test_an_integrator_enrols_and_labels_only_at_its_own_sites(api, client, login, case):
    coi, _ = case
    enrol = {"kind": "autologous", "product": "p", "treating_site": "hospital-1", "mrn": "MRN-X"}
    before = last(client)
    integrator2 = login("integrator2")
    refused(client, client.post("/v1/cases", headers=integrator2, json=enrol))
    refused(client, client.post("/v1/cases", headers=integrator2, json={**enrol, "site": "hospital-1"}))
    api.event("integrator2", "CaseEnrolled", enrol, expect=403, code="SITE_FORBIDDEN")
    api.event("integrator2", "CaseEnrolled", {**enrol, "treating_site": OTHER, "collection_site": "hospital-1"},
              expect=403, code="SITE_FORBIDDEN")
    api.event("integrator2", "DonorRegistered", {"product": "p", "collection_site": "hospital-1", "donor_id": "D-1"},
              expect=403, code="SITE_FORBIDDEN")
    api.event("integrator2", "UnitLabelled", {"kind": "sample"}, coi=coi, expect=403, code="SITE_FORBIDDEN")
    refused(client, client.post("/v1/units", headers=integrator2, json={"coi": coi, "kind": "sample"}))
    assert last(client) == before
    own = api.event("integrator2", "CaseEnrolled", {**enrol, "treating_site": OTHER})["answer"]["coi"]
    api.event("integrator2", "UnitLabelled", {"kind": "sample"}, coi=own)


def test_a_batch_with_one_foreign_step_is_refused_whole(api, client, login, case):
    coi, _ = case
    own = {"type": "CaseEnrolled", "data": {"kind": "autologous", "product": "p", "treating_site": OTHER,
                                            "mrn": "MRN-B"}}
    foreign = {"type": "CaseOnHold", "coi": coi, "data": {"reason": "r"}}
    before = last(client)
    refused(client, client.post("/v1/events/batch", headers=login("nurse2"), json={"events": [own, foreign]}))
    assert last(client) == before
    assert client.post("/v1/events/batch", headers=login("nurse2"), json={"events": [own]}).status_code == 201


def test_a_refused_wrong_patient_at_another_site_leaves_no_trace(api, client, case):
    coi, bag = case
    wrong = {"wristband": WRONG_MRN, "material": "leukapheresis", "collection_site": "hospital-1"}
    before = last(client)
    api.event("nurse2", "MaterialCollected", wrong, unit_id=bag, expect=403, code="SITE_FORBIDDEN")
    api.event("nurse2", "MaterialCollected", {**wrong, "collection_site": OTHER}, unit_id=bag,
              expect=403, code="SITE_FORBIDDEN")
    assert last(client) == before
    assert client.get(f"/v1/cases/{coi}", headers=api.login("auditor")).json()["refusals"] == 0
    recorded = api.event("nurse", "MaterialCollected", wrong, unit_id=bag, expect=409, code="COI_MISMATCH")
    assert recorded["recorded_event"]


def test_a_scan_by_another_site_is_refused_and_not_recorded(api, client, login, case):
    coi, bag = case
    label = client.get(f"/v1/units/{bag}", headers=login("nurse")).json()["label"]
    scan = {"raw": ldg1_payload(label, coi), "purpose": "verify", "expect": {"coi": coi}}
    before = last(client)
    refused(client, client.post("/v1/scans", headers=login("nurse2"), json=scan))
    assert last(client) == before
    assert client.post("/v1/scans", headers=login("nurse"), json=scan).status_code == 201


def test_a_correction_by_another_site_is_refused_by_its_own_site_allowed(api, client, case):
    _, bag = case
    qc = api.event("nurse", "QCResultRecorded", {"test": "sterility", "result": "fail", "value": 12.5}, unit_id=bag)
    correction = {"event_id": qc["event_id"], "reason": "transcription error", "changes": {"value": 1.25}}
    before = last(client)
    api.event("nurse2", "EventCorrected", correction, stream=bag, expect=403, code="SITE_FORBIDDEN")
    assert last(client) == before
    api.event("nurse", "EventCorrected", correction, stream=bag)


@pytest.fixture
def journey(client):
    """The demo journey (hospital-1 -> factory-1 -> hospital-1), the spare product left at the factory."""
    services = client.app.state.container.services
    result = run_autologous_journey(services, readings=30)
    container = client.app.state.container
    assert container.wait_for(container.ledger.last_position(), timeout=10)
    return result


def test_the_factory_acts_on_units_shipped_to_it_and_the_courier_on_what_it_carries(api, client, login, journey):
    spare, product, bag = (str(journey.units[k]) for k in ("spare_product", "final_product", "apheresis_bag"))
    api.event("tech", "QCResultRecorded", {"test": "sterility", "result": "pass", "value": "negative"}, unit_id=spare)
    # the case involves the factory through its units: new units and case events
    api.event("tech", "UnitLabelled", {"kind": "shipper"}, coi=journey.coi)
    api.event("qa", "CaseOnHold", {"reason": "deviation under review"}, coi=journey.coi)
    api.event("qa", "CaseResumed", {"reason": "closed"}, coi=journey.coi)
    # the courier: offered the spare, it may take and carry it; nothing else of the case
    api.event("courier", "CustodyTransferred", {"to_party": "courier"}, unit_id=product,
              expect=403, code="SITE_FORBIDDEN")
    api.event("courier", "QCResultRecorded", {"test": "sterility", "result": "fail"}, unit_id=spare,
              expect=403, code="FORBIDDEN")  # (a role refusal comes first)
    api.event("courier", "CustodyAcknowledged", {}, unit_id=spare, expect=403, code="SITE_FORBIDDEN")
    api.event("tech", "CustodyTransferred", {"to_party": "courier", "location": "factory-1"}, unit_id=spare)
    api.event("courier", "CustodyAcknowledged", {"condition": "sealed"}, unit_id=spare)
    api.event("courier", "ShipmentDispatched", {"carrier": "X", "tracking": "T9", "from_site": "factory-1",
                                                "to_site": "hospital-1"}, unit_id=spare)
    api.event("courier", "ShipmentDelivered", {"tracking": "T9", "to_site": "hospital-1"}, unit_id=spare)
    # another hospital's staff: nothing on this case
    before = last(client)
    api.event("qa2", "UnitQuarantined", {"reason": "r"}, unit_id=spare, expect=403, code="SITE_FORBIDDEN")
    api.event("nurse2", "UnitDisposed", {"reason": "r"}, unit_id=bag, expect=403, code="SITE_FORBIDDEN")
    assert last(client) == before


def _epcis(event: dict) -> bytes:
    context = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld", {"coi": "https://coi-ledger.dev/epcis/"}]
    return json.dumps({"@context": context, "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": event["eventTime"], "epcisBody": {"eventList": [event]}}).encode()


def test_epcis_capture_by_another_sites_integrator_is_refused(api, client, login, journey):
    services = client.app.state.container.services
    label = services.units.state(journey.units["spare_product"]).label
    when = api.at()
    quarantine = {"type": "ObjectEvent", "eventTime": when.replace("Z", "+00:00"), "eventTimeZoneOffset": "+00:00",
                  "action": "OBSERVE", "epcList": [f"urn:coi-ledger:unit:{label}"], "bizStep": "inspecting"}
    headers = {"Content-Type": "application/json"}
    before = last(client)
    refused(client, client.post("/v1/epcis/capture", content=_epcis(quarantine),
                                headers={**login("integrator2"), **headers}))
    assert last(client) == before
    allowed = client.post("/v1/epcis/capture", content=_epcis(quarantine), headers={**login("integrator"), **headers})
    assert allowed.status_code == 201, allowed.text
    assert last(client) > before
