"""GS1 EPCIS 2.0 over HTTP: every conformance file through POST /v1/epcis/capture (SQLite and
PostgreSQL), idempotent re-capture, roles, and a query of a captured journey."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TESTDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata" / "epcis2"
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
