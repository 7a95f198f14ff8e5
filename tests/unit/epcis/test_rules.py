"""CBV terms, times, identifiers and sensor readings: the small rules capture relies on."""

from __future__ import annotations

import pytest

from api.epcis import cbv, ids, sensors


@pytest.mark.parametrize("value", ["shipping", "cbv:BizStep-shipping", "https://ref.gs1.org/cbv/BizStep-shipping",
                                   "urn:epcglobal:cbv:bizstep:shipping"])
def test_biz_step_forms(value):
    assert cbv.term("bizStep", value) == "shipping"


@pytest.mark.parametrize("value, ok", [("2026-07-22T06:45:00+02:00", True), ("2026-07-22T06:45:00.123Z", True),
                                       ("2026-07-22T06:45:00", False), ("22-07-2026", False),
                                       ("2026-13-22T06:45:00Z", False), ("2026-07-22T06:45:00+15:00", False),
                                       (20260722, False)])
def test_rfc3339(value, ok):
    assert cbv.is_rfc3339(value) is ok


@pytest.mark.parametrize("key, prefixes, problem", [
    ("ext1:field", {"ext1"}, False), ("ext1:field", set(), True), ("gs1:x", set(), False),
    ("https://ns.example.com/field", set(), False), ("materialType", {"ext1"}, True)])
def test_namespaced(key, prefixes, problem):
    assert (cbv.namespaced(key, prefixes) is not None) is problem


def test_event_id_ignores_error_declaration_and_record_time():
    event = {"type": "ObjectEvent", "eventTime": "2026-01-01T00:00:00Z", "epcList": ["urn:x:1"]}
    plain = ids.event_id(event)
    assert plain.startswith("ni:///sha-256;") and plain.endswith("?ver=CBV2.0")
    assert ids.event_id({**event, "recordTime": "2026-01-02T00:00:00Z",
                         "errorDeclaration": {"declarationTime": "2026-01-03T00:00:00Z"}}) == plain
    assert ids.event_id({**event, "eventID": "urn:uuid:1"}) == "urn:uuid:1"


def test_lookup_values_of_an_sgtin():
    assert ids.lookup_values("urn:epc:id:sgtin:0614141.812345.6789") == [
        "urn:epc:id:sgtin:0614141.812345.6789", "(01)80614141123458(21)6789"]


def test_namespaced_round_trip():
    data = {"kind": "shipper", "identifiers": {"epc": "urn:x:1"}, "parents": ["urn:x:2"]}
    assert ids.plain(ids.namespaced(data)) == data


def test_readings_value_interval_and_units():
    event = {"eventTime": "2026-01-01T10:00:00Z", "sensorElementList": [
        {"sensorMetadata": {"time": "2026-01-01T09:00:00Z", "deviceID": "urn:coi-ledger:device:LOG-1"},
         "sensorReport": [{"type": "Temperature", "value": 41, "uom": "FAH"},
                          {"type": "RelativeHumidity", "value": 40}]},
        {"sensorMetadata": {"startTime": "2026-01-01T08:00:00Z", "endTime": "2026-01-01T08:30:00Z"},
         "sensorReport": [{"type": "gs1:Temperature", "minValue": 2.123, "maxValue": 9.5, "uom": "CEL"}]},
        {"sensorReport": [{"exception": "ALARM_CONDITION", "booleanValue": True},
                          {"type": "Temperature", "value": 5, "uom": "XYZ"}]}]}
    series, problems = sensors.readings(event)
    assert series == {
        "LOG-1": [{"t": "2026-01-01T09:00:00.000000Z", "celsius": 5.0}],
        "epcis-sensor": [{"t": "2026-01-01T08:00:00.000000Z", "celsius": 2.12},
                         {"t": "2026-01-01T08:30:00.000000Z", "celsius": 9.5}]}
    assert len(problems) == 2 and "alarm" in problems[0] and "XYZ" in problems[1]
