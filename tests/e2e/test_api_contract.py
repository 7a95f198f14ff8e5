"""Issue 17: the API's requests carry the domain's bounds, commands are named handlers, and
every read answers a typed model (so ``/openapi.json`` documents it)."""

from __future__ import annotations

from uuid import uuid4

import pytest

from api.commands import COMMANDS
from ledger.domain.events_quality import MAX_READINGS, TemperatureRecorded
from ledger.domain.spec import MEANINGS
from ledger.services.cases import CaseService
from ledger.services.commands import Data
from ledger.services.commands import command as command_for
from ledger.services.products import ProductService
from ledger.services.quality import QualityService
from ledger.services.review import ReviewService
from ledger.services.units import UnitService
from ledger.store.records import Receipt


def _schema(spec, name):
    return spec["components"]["schemas"][name]


def test_request_fields_carry_the_domain_bounds(client):
    spec = client.get("/openapi.json").json()
    celsius = _schema(spec, "Reading")["properties"]["celsius"]
    assert (celsius["minimum"], celsius["maximum"]) == (-273.15, 1000)
    readings = _schema(spec, "Temperatures")["properties"]["readings"]
    assert readings["maxItems"] == MAX_READINGS
    upload = _schema(spec, "LoggerUpload")["properties"]["readings"]
    assert upload["maxItems"] == MAX_READINGS
    meaning = _schema(spec, "EsignInput")["properties"]["meaning"]
    assert tuple(meaning["enum"]) == MEANINGS


@pytest.mark.req("URS-ALCOA-ACC")
def test_an_impossible_temperature_is_refused_at_the_door(client, login):
    reading = {"t": "2026-01-01T00:00:00Z", "celsius": 5000}
    upload = client.post(f"/v1/units/{uuid4()}/temperatures", headers=login("courier"),
                         json={"logger_id": "L1", "readings": [reading]})
    assert upload.status_code == 422, upload.text
    assert upload.json()["code"] == "VALIDATION_FAILED"
    assert upload.json()["errors"][0]["loc"][-1] == "celsius"
    event = client.post("/v1/events", headers=login("courier"), json={
        "type": TemperatureRecorded.__name__, "unit_id": str(uuid4()),
        "data": {"logger": "L1", "readings": [{**reading, "celsius": 4.123}]}})
    assert event.status_code == 422, event.text
    assert event.json()["code"] == "VALIDATION_FAILED"
    assert event.json()["errors"][0]["loc"][-1] == "celsius"


def test_every_command_is_a_named_service_method_of_its_event_type():
    """Commands are declared on their service methods: a lambda cannot be one."""
    services = {CaseService, UnitService, QualityService, ReviewService, ProductService}
    for name, command in COMMANDS.items():
        assert command.event.__name__ == name
        assert command.method.__name__ != "<lambda>", name
        assert [s for s in services if vars(s).get(command.method.__name__) is command.method], name
    with pytest.raises(TypeError, match="named service method"):
        command_for(TemperatureRecorded, target="unit_id", request=Data)(lambda self, ctx: None)


def test_every_read_answers_a_named_model(client):
    """A bare ``dict`` answer is an untyped object in ``/openapi.json``: every JSON read names a
    model (the dossier bundle excepted: it is the offline verifier's document)."""
    spec = client.get("/openapi.json").json()
    untyped = []
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        if get is None or path.startswith(("/portal", "/v1/epcis")) or path == "/v1/cases/{coi}/dossier":
            continue
        schema = get["responses"]["200"].get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            continue  # not JSON (labels, CSV, metrics, witness file)
        if "$ref" not in schema and "$ref" not in schema.get("items", {}):
            untyped.append(path)
    assert untyped == []


def test_one_receipt():
    from api import schemas

    assert schemas.Receipt is Receipt
    assert issubclass(schemas.AppendResponse, Receipt)
