"""GS1 EPCIS 2.0 over HTTP: every conformance file through POST /v1/epcis/capture (SQLite and
PostgreSQL), idempotent re-capture, roles, and a query of a captured journey."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from ledger.services.journeys import DEMO_PASSWORD
from tests.support import last_record_by_people

TESTDATA = Path(__file__).resolve().parents[1] / "vectors" / "epcis2"
EXPECTED = {"valid": 37, "single-events": 5, "invalid": 9, "invalid-semantic": 6, "disputed": 1}


def files(folder: str) -> list[Path]:
    return sorted((TESTDATA / folder).glob("*.json"))


def test_conformance_data_is_there():
    """Read in place; never skip when it is missing."""
    assert TESTDATA.is_dir(), f"missing {TESTDATA}"
    assert {folder: len(files(folder)) for folder in EXPECTED} == EXPECTED


def capture(client, login, path: Path, user: str = "integrator"):
    return client.post("/v1/epcis/capture", content=path.read_bytes(),
                       headers={**login(user), "Content-Type": "application/ld+json"})


@pytest.mark.parametrize("path", files("valid") + files("single-events"), ids=lambda p: p.stem)
def test_accepted(client, login, path):
    response = capture(client, login, path)
    assert response.status_code == 201, response.text
    result = response.json()
    document = json.loads(path.read_text())
    count = len(document["epcisBody"]["eventList"]) if document["type"] == "EPCISDocument" else 1
    assert result["event_count"] == count and len(result["events"]) == count
    assert len(result["document_hash"]) == 64 and result["replayed"] is False
    for event in result["events"]:  # nobody here knows these EPCs: recorded, reported, not applied
        assert event["eventID"] and event["status"] in ("applied", "not_applied", "partially_applied")
        if event["status"] == "not_applied":
            assert event["not_applied"], event
    again = capture(client, login, path)
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert {k: v for k, v in again.json().items() if k != "replayed"} == {
        k: v for k, v in result.items() if k != "replayed"}


@pytest.mark.parametrize("path", files("invalid") + files("invalid-semantic"), ids=lambda p: p.stem)
@pytest.mark.req("URS-A11-5")
def test_refused(client, login, path):
    response = capture(client, login, path)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    expected = {"invalid": {"EPCIS_SCHEMA_INVALID"},
                "invalid-semantic": {"EPCIS_VOCABULARY", "EPCIS_SEMANTIC"}}[path.parent.name]
    assert problem["code"] in expected
    assert problem["errors"], problem
    for fault in problem["errors"]:
        assert fault["pointer"] == "" or fault["pointer"].startswith("/")
        assert fault["message"] and fault["code"]
    first = problem["errors"][0]
    assert first["pointer"] in problem["detail"]


SEMANTIC_FAULTS = {
    "ObjectEvent_with_non_standard_bizStep": ("/epcisBody/eventList/0/bizStep", 0, "NOT_A_CBV_TERM"),
    "ObjectEvent_with_non_standard_bizStep_in_second_event": (
        "/epcisBody/eventList/1/bizStep", 1, "NOT_A_CBV_TERM"),
    "ObjectEvent_with_non_standard_disposition": (
        "/epcisBody/eventList/0/disposition", 0, "NOT_A_CBV_TERM"),
    "Combination_of_non_standard_bizStep_and_disposition": (
        "/epcisBody/eventList/0/bizStep", 0, "NOT_A_CBV_TERM"),
    "ObjectEvent_with_ilmd_field_without_namespace": (
        "/epcisBody/eventList/0/ilmd/materialType", 0, "FIELD_NOT_NAMESPACED"),
    "ObjectEvent_with_invalid_eventTime_format": (
        "/epcisBody/eventList/0/eventTime", 0, "TIME_NOT_RFC3339"),
}


@pytest.mark.parametrize("name", sorted(SEMANTIC_FAULTS))
def test_semantic_fault_named(client, login, name):
    response = capture(client, login, TESTDATA / "invalid-semantic" / f"{name}.json")
    fault = response.json()["errors"][0]
    assert (fault["pointer"], fault["event_index"], fault["code"]) == SEMANTIC_FAULTS[name]


def test_both_faults_of_a_combined_document_are_named(client, login):
    response = capture(client, login,
                       TESTDATA / "invalid-semantic" / "Combination_of_non_standard_bizStep_and_disposition.json")
    assert [f["pointer"] for f in response.json()["errors"]] == [
        "/epcisBody/eventList/0/bizStep", "/epcisBody/eventList/1/disposition"]


def test_disputed_sensor_report_without_type_is_refused(client, login):
    """Decision (docs/EPCIS.md): the schema requires a sensorReport's type; an alarm that does
    not say what it measured cannot become an excursion, so the document is refused."""
    response = capture(client, login, TESTDATA / "disputed" / "SensorData_with_combined_events.json")
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "EPCIS_SCHEMA_INVALID"
    pointers = {f["pointer"] for f in problem["errors"]}
    assert pointers == {"/epcisBody/eventList/8/sensorElementList/0/sensorReport/0",
                        "/epcisBody/eventList/8/sensorElementList/0/sensorReport/1"}
    assert all("'type' is a required property" in f["message"] for f in problem["errors"])


@pytest.mark.parametrize("user, status", [("integrator", 201), ("courier", 201), ("nurse", 201),
                                          ("qa", 403), ("auditor", 403), ("clinician", 403)])
def test_capture_roles(client, login, user, status):
    response = capture(client, login, TESTDATA / "valid" / "ObjectEvent.json", user=user)
    assert response.status_code == status, response.text


def test_capture_needs_a_token(client):
    response = client.post("/v1/epcis/capture", content=b"{}")
    assert response.status_code == 401


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'{"type": 1}', b"\xff\xfe",
                                  b'{"a": 1, "a": 2}', b'{"x": NaN}', b"[" * 5000 + b"]" * 5000])
def test_hostile_bodies_get_a_problem(client, login, body):
    response = client.post("/v1/epcis/capture", content=body, headers=login("integrator"))
    assert response.status_code == 422, response.text
    assert response.json()["code"].startswith("EPCIS_")


def test_query_roles_and_scope(client, login):
    assert client.get("/v1/epcis/events", params={"coi": "COI-0000-0000-0"}).status_code == 401
    response = client.get("/v1/epcis/events", headers=login("auditor"))
    assert response.status_code == 422 and response.json()["code"] == "INVALID_QUERY"


# --- mapping onto the domain: a journey's units shipped again, through EPCIS ---------------

SSCC = "urn:epc:id:sscc:0614141.1234567890"
CTX = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld", {"coi": "https://coi-ledger.dev/epcis/"}]


def at(minutes_ago: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def document(*events) -> bytes:
    return json.dumps({"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": at(0), "epcisBody": {"eventList": list(events)}}).encode()


def obj(minutes_ago, epcs, step, **fields):
    return {"type": "ObjectEvent", "eventTime": at(minutes_ago), "eventTimeZoneOffset": "+00:00",
            "action": "OBSERVE", "epcList": epcs, "bizStep": step, **fields}


def party(kind, who, where=None):
    key = "source" if kind == "sourceList" else "destination"
    out = [{"type": "possessing_party", key: f"urn:coi-ledger:party:{who}"}] if who else []
    return out + ([{"type": "location", key: f"urn:coi-ledger:site:{where}"}] if where else [])


def post(client, login, user, body, **params):
    return client.post("/v1/epcis/capture", content=body, params=params,
                       headers={**login(user), "Content-Type": "application/json"})


@pytest.fixture
def journey(client, login):
    from ledger.services.journeys import run_autologous_journey

    services = client.app.state.container.services
    result = run_autologous_journey(services, readings=30)
    spare = result.units["spare_product"]
    response = client.post("/v1/units", headers=login("tech"), json={
        "coi": result.coi, "kind": "shipper", "identifiers": {"epc": SSCC}})
    assert response.status_code == 201, response.text
    shipper = response.json()["answer"]["unit_id"]
    container = client.app.state.container
    assert container.wait_for(container.ledger.last_position(), timeout=10)
    label = services.units.state(spare).label
    return {"services": services, "spare": spare, "spare_epc": f"urn:coi-ledger:unit:{label}",
            "shipper": shipper, "coi": result.coi}


def test_shipping_receiving_aggregation_sensor_document_moves_journey_units(client, login, journey):
    j, state = journey, journey["services"].units.state
    packed = document(
        {"type": "AggregationEvent", "eventTime": at(180), "eventTimeZoneOffset": "+00:00",
         "action": "ADD", "parentID": SSCC, "childEPCs": [j["spare_epc"]], "bizStep": "packing"},
        obj(170, [SSCC], "shipping", sourceList=party("sourceList", "tech", "factory-1"),
            destinationList=party("destinationList", "courier")),
        obj(169, ["urn:epc:id:sgtin:0614141.812345.6789"], "inspecting"))
    first = post(client, login, "tech", packed)
    assert first.status_code == 201, first.text
    events = first.json()["events"]
    assert [e["status"] for e in events] == ["applied", "applied", "not_applied"]
    assert "no unit in this ledger" in events[2]["not_applied"][0]
    readings = [{"sensorMetadata": {"time": at(140 - i * 10), "deviceID": "urn:epc:id:giai:4000001.111"},
                 "sensorReport": [{"type": "Temperature", "value": v, "uom": "CEL"}]}
                for i, v in enumerate([-180, -120.5, -181])]
    receiving = obj(160, [SSCC], "receiving", destinationList=party("destinationList", "courier", "factory-1"),
                    eventID="urn:uuid:6f7c1b52-0a8e-4c1e-9d9e-2f1f0c5e7a11")
    courier = document(
        receiving,
        obj(150, [SSCC], "departing", bizTransactionList=[{"type": "bol", "bizTransaction":
                                                           "urn:coi-ledger:tracking:TRK-EPCIS-1"}],
            sourceList=party("sourceList", None, "factory-1"), destinationList=party(
                "destinationList", None, "hospital-1")),
        obj(145, [SSCC], "sensor_reporting", sensorElementList=readings),
        obj(100, [SSCC], "arriving", destinationList=party("destinationList", None, "hospital-1")),
        obj(95, [SSCC], "shipping", sourceList=party("sourceList", "courier"),
            destinationList=party("destinationList", "nurse", "hospital-1")))
    second = post(client, login, "courier", courier)
    assert second.status_code == 201, second.text
    assert [e["status"] for e in second.json()["events"]] == ["applied"] * 5
    nurse = post(client, login, "nurse", document(
        obj(90, [SSCC], "receiving", destinationList=party("destinationList", "nurse", "hospital-1")),
        {"type": "AggregationEvent", "eventTime": at(85), "eventTimeZoneOffset": "+00:00",
         "action": "DELETE", "parentID": SSCC, "childEPCs": [], "bizStep": "unpacking"}))
    assert nurse.status_code == 201, nurse.text
    spare, shipper = state(j["spare"]), state(UUID(j["shipper"]))
    assert (spare.custodian, spare.container, shipper.custodian, shipper.location) == (
        "nurse", None, "nurse", "hospital-1")
    assert shipper.shipment is None and not shipper.contents
    [excursion] = spare.excursions  # inherited from the shipper's logger, through the domain
    assert (excursion.max_celsius, excursion.decision, excursion.logger) == (
        -120.5, None, "urn:epc:id:giai:4000001.111")
    stream = [e.envelope["type"] for e in client.app.state.container.ledger.read_stream(j["spare"])]
    assert stream[-9:] == ["PackedInto", "CustodyTransferred", "CustodyAcknowledged", "ShipmentDispatched",
                           "ExcursionDetected", "ShipmentDelivered", "CustodyTransferred",
                           "CustodyAcknowledged", "UnpackedFrom"]

    # re-capture: the first answer, nothing appended
    ledger = client.app.state.container.ledger
    before = last_record_by_people(ledger)
    again = post(client, login, "courier", courier)
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["events"] == second.json()["events"] and last_record_by_people(ledger) == before

    # errorDeclaration: the receiving did not happen as recorded -> EventCorrected on what it became
    corrective = ["urn:uuid:00000000-0000-4000-8000-000000000001"]
    declared = {**receiving, "errorDeclaration": {"declarationTime": at(1), "reason": "incorrect_data",
                                                  "correctiveEventIDs": corrective}}
    fixed = post(client, login, "courier", document(declared))
    assert fixed.status_code == 201, fixed.text
    [event] = fixed.json()["events"]
    assert event["status"] == "applied" and {e["type"] for e in event["ledger_events"]} == {"EventCorrected"}
    assert len(event["ledger_events"]) == 2  # the shipper's acknowledgement and the spare's copy
    assert post(client, login, "courier", document(
        {**declared, "errorDeclaration": {**declared["errorDeclaration"], "declarationTime": at(0)}})
    ).json()["events"][0]["status"] == "not_applied"

    # query: the unit's events as an EPCISQueryDocument, filtered and paged
    query = client.get("/v1/epcis/events", headers=login("auditor"),
                       params={"epc": SSCC, "EQ_bizStep": "shipping", "perPage": 1,
                               "min_position": ledger.last_position()})
    assert query.status_code == 200, query.text
    body = query.json()
    [shipped] = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert shipped["bizStep"] == "shipping" and shipped["epcList"] == [SSCC]
    assert body["coi:nextPageToken"] and 'rel="next"' in query.headers["link"]
    rest = client.get("/v1/epcis/events", headers=login("auditor"), params={
        "epc": SSCC, "EQ_bizStep": "shipping", "perPage": 1, "nextPageToken": body["coi:nextPageToken"]})
    [shipped_again] = rest.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert shipped_again["coi:eventId"] != shipped["coi:eventId"]
    from api.epcis.validation import schema_validator

    assert not list(schema_validator().iter_errors(body))


def test_a_refused_step_refuses_the_whole_document(client, login, journey):
    ledger = client.app.state.container.ledger
    before = last_record_by_people(ledger)
    response = post(client, login, "tech", document(
        {"type": "AggregationEvent", "eventTime": at(30), "eventTimeZoneOffset": "+00:00",
         "action": "ADD", "parentID": SSCC, "childEPCs": [journey["spare_epc"]]},
        obj(20, [SSCC], "departing", bizTransactionList=[{"type": "bol", "bizTransaction": "urn:x:1"}],
            sourceList=party("sourceList", None, "factory-1"),
            destinationList=party("destinationList", None, "hospital-1")),
        obj(10, [SSCC], "arriving", bizTransactionList=[{"type": "bol", "bizTransaction": "urn:x:2"}])))
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["code"] == "TRACKING_MISMATCH"
    assert problem["errors"][0]["event_index"] == 2 and "EPCIS event 2" in problem["detail"]
    assert last_record_by_people(ledger) == before


# --- export of a whole case, re-imported into an empty ledger --------------------------------

def _source_case(services) -> tuple[str, dict]:
    """Enrol, label a cryobag and a shipper, pack, ship (custody by several people), log
    temperatures, unpack, derive two doses, QC one: everything an export must carry."""
    from ledger.services.executor import Context

    tech, courier = Context("tech", site="factory-1"), Context("courier", site="courier-hub-1")
    coi = services.cases.enrol(Context("nurse", site="hospital-1"), kind="autologous", product="CAR-T",
                               treating_site="hospital-1", mrn="MRN-RT-1").result.answer["coi"]
    spec = {"min_celsius": -196, "max_celsius": -150}
    bag = services.units.label(tech, coi=coi, kind="cryobag", spec=spec,
                               identifiers={"isbt_din": "A999917123456"}).result.answer["unit_id"]
    box = services.units.label(tech, coi=coi, kind="shipper").result.answer["unit_id"]
    bag, box = UUID(bag), UUID(box)
    services.units.pack(tech, unit_id=bag, container_id=box)
    services.units.handover(tech, unit_id=box, to_party="courier", location="factory-1")
    services.units.acknowledge(courier, unit_id=box, location="factory-1")
    services.quality.record_temperatures(courier, unit_id=box, logger="LOG-9", readings=[
        {"t": at(50 - i), "celsius": -180.0} for i in range(5)])
    services.units.handover(courier, unit_id=box, to_party="tech")
    services.units.acknowledge(tech, unit_id=box, location="factory-1")
    services.units.unpack(tech, unit_id=bag, container_id=box)
    doses = services.quality.derive(tech, coi=coi, inputs=[bag], process="expansion", batch="LOT-RT",
                                    outputs=[{"kind": "final_product_bag", "spec": spec}] * 2)
    first = UUID(doses.result.answer["outputs"][0]["unit_id"])
    services.quality.record_qc(tech, unit_id=first, test="sterility", result="pass")
    return coi, {"bag": bag, "box": box}


def _shape(graph: dict) -> tuple[list, list]:
    kinds = {n["id"]: (n["type"], n["kind"]) for n in graph["nodes"]}
    nodes = sorted((n["type"], n["kind"], n["status"]) for n in graph["nodes"])
    edges = sorted((e["relation"], kinds[e["from"]], kinds[e["to"]]) for e in graph["edges"])
    return nodes, edges


@pytest.mark.req("URS-P11-10b")
def test_export_validates_and_reimport_gives_the_same_genealogy(client, login, settings, tmp_path):
    from api.app import create_app
    from api.epcis.query import case_document
    from api.epcis.validation import check
    from ledger.services.journeys import seed_identities
    from ledger.store import migrations
    from ledger.store.database import Database
    from projections.genealogy_query import genealogy_for_coi

    container = client.app.state.container
    coi, _ = _source_case(container.services)
    assert container.wait_for(container.ledger.last_position(), timeout=10)
    with container.engine.connect() as conn:
        exported = case_document(conn, container.ledger, coi)
        source_graph = genealogy_for_coi(conn, coi)
    checked = check(json.loads(json.dumps(exported)))  # the schema and the CBV rules
    kinds = [e.get("coi:ledgerType") for e in checked.events]
    assert kinds[0] == "CaseEnrolled" and "UnitsDerived" in kinds and "QCResultRecorded" in kinds

    url = f"sqlite:///{tmp_path}/empty.sqlite"
    migrations.upgrade(Database.from_url(url))
    with TestClient(create_app(settings.model_copy(update={"database_url": url})),
                    raise_server_exceptions=False) as target:
        seed_identities(target.app.state.container.services)
        tokens = {u: target.post("/v1/auth/token", data={"username": u, "password": DEMO_PASSWORD}
                                 ).json()["access_token"] for u in ("nurse", "integrator")}
        enrolled = target.post("/v1/events", headers={"Authorization": f"Bearer {tokens['nurse']}"}, json={
            "type": "CaseEnrolled", "data": {"kind": "autologous", "product": "CAR-T",
                                             "treating_site": "hospital-1", "mrn": "MRN-RT-1"}})
        new_coi = enrolled.json()["answer"]["coi"]
        response = target.post("/v1/epcis/capture", params={"coi": new_coi},
                               content=json.dumps(exported).encode(),
                               headers={"Authorization": f"Bearer {tokens['integrator']}"})
        assert response.status_code == 201, response.text
        actions = [a["action"] for e in response.json()["events"] for a in e["applied"]]
        assert actions.count("label") == 2 and actions.count("derive") == 1
        assert {"pack", "unpack", "temperatures"} <= set(actions)
        other = target.app.state.container
        assert other.runner.wait_for(other.ledger.last_position(), timeout=10)
        with other.engine.connect() as conn:
            target_graph = genealogy_for_coi(conn, new_coi)
    nodes, edges = _shape(source_graph)
    assert len(nodes) == 5 and [r for r, *_ in edges].count("derived") == 2
    assert _shape(target_graph) == (nodes, edges)


@hyp_settings(max_examples=25, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(path=st.sampled_from(files("valid")), data=st.data())
def test_hostile_mutations_never_500(client, login, path, data):
    """Random damage to real documents through the real endpoint: a result or a clear problem."""
    document = json.loads(path.read_text())
    junk = st.recursive(st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=20)),
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                     max_size=3), max_leaves=10)
    event = document["epcisBody"]["eventList"][0]
    event[data.draw(st.sampled_from(sorted(event)))] = data.draw(junk)
    try:
        body = json.dumps(document, allow_nan=True).encode()
    except ValueError:
        return
    response = client.post("/v1/epcis/capture", content=body, headers=login("integrator"))
    assert response.status_code in (200, 201, 409, 413, 422), response.text
    if response.status_code >= 400:
        assert response.json()["code"] and response.json()["detail"]
