"""The request context (``api.observability.RequestContext``, pure ASGI): a request id on every
answer, and one access-log line per request with its route template, status and principal."""

from __future__ import annotations

import logging

import pytest


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_every_answer_carries_a_request_id_and_is_logged_with_its_principal(client, login, caplog):
    caplog.set_level(logging.INFO, logger="ledger.access")
    given = client.get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert given.headers["X-Request-ID"] == "trace-42"
    fresh = client.get("/healthz", headers={"X-Request-ID": "x" * 65})  # too long: a new one
    assert len(fresh.headers["X-Request-ID"]) == 32 and fresh.headers["X-Request-ID"] != "x" * 65

    auditor = login("auditor")
    caplog.clear()
    answer = client.get("/v1/cases/COI-NONE/genealogy", headers={**auditor, "X-Request-ID": "trace-43"})
    assert answer.status_code == 404 and answer.headers["X-Request-ID"] == "trace-43"
    [line] = [r for r in caplog.records if r.name == "ledger.access" and r.request_id == "trace-43"]
    assert (line.method, line.route, line.status, line.principal) == (
        "GET", "/v1/cases/{coi}/genealogy", 404, "auditor")
    assert line.duration_ms >= 0

    refused = client.get("/v1/cases")  # no token: answered, counted, logged without a principal
    assert refused.status_code == 401 and refused.headers["X-Request-ID"]
    metrics = client.get("/metrics").text
    assert 'ledger_http_requests_total{method="GET",route="/v1/cases",status="401"}' in metrics
