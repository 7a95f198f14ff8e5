"""Scanned text never lands in an event: ``/v1/scans`` keeps only its kind, length and keyed
digest, and no other write path (``POST /v1/events``, a correction) may put the text there."""

from __future__ import annotations

import json
from uuid import UUID

import pytest

from tests.support import last_record_by_people

from .test_journey_http import Api

WRISTBAND = "MRN-WRISTBAND-77123"


@pytest.fixture
def api(client, login) -> Api:
    return Api(client, login)


def _scanned_unit(api: Api, client, login) -> tuple[str, str, str]:
    """A labelled bag, and the stream and id of the UnitScanned event an unrecognised scan (a
    wristband read while checking the case) recorded."""
    coi = api.event("nurse", "CaseEnrolled", {"kind": "autologous", "product": "CAR-T",
                                              "treating_site": "hospital-1", "mrn": "MRN-SCAN-1"})["answer"]["coi"]
    unit = api.event("nurse", "UnitLabelled", {"kind": "apheresis_bag"}, coi=coi)["answer"]["unit_id"]
    scan = client.post("/v1/scans", headers=login("nurse"), json={"raw": WRISTBAND, "purpose": "verify",
                                                               "expect": {"coi": coi}})
    assert scan.status_code == 201, scan.text
    return unit, scan.json()["event"]["stream"], scan.json()["event"]["event_id"]


def test_unit_scanned_with_raw_text_is_refused_on_post_events(api, client, login):
    unit, _, _ = _scanned_unit(api, client, login)
    before = last_record_by_people(client.app.state.container.ledger)
    for data in ({"raw": WRISTBAND, "purpose": "verify", "verdict": "unknown"},
                 {"purpose": "verify", "verdict": "match"}):
        response = client.post("/v1/events", headers=login("nurse"),
                               json={"type": "UnitScanned", "unit_id": unit, "data": data})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert last_record_by_people(client.app.state.container.ledger) == before


def test_a_correction_cannot_put_scanned_text_into_a_scan(api, client, login):
    _, stream_id, scan_event = _scanned_unit(api, client, login)
    before = last_record_by_people(client.app.state.container.ledger)
    for changes in ({"raw": WRISTBAND}, {"scanned": {"kind": "unrecognised", "length": 3, "digest": "0" * 64}},
                    {"parsed": {"din": WRISTBAND}}):
        api.event("nurse", "EventCorrected", {"event_id": scan_event, "reason": "typo", "changes": changes},
                  stream=stream_id, expect=409, code="CORRECTION_NOT_ALLOWED")
    assert last_record_by_people(client.app.state.container.ledger) == before
    stream = client.app.state.container.ledger.read_stream(UUID(stream_id))
    assert WRISTBAND not in json.dumps([e.envelope for e in stream])
    # what a correction may still fix on a scan: its free-text reason
    api.event("nurse", "EventCorrected", {"event_id": scan_event, "reason": "typo",
                                          "changes": {"reason": "label smudged"}}, stream=stream_id)
