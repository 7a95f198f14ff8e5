"""The request-size limit holds on the stream: a chunked body (no Content-Length) is cut off
as soon as it passes the limit, before any parsing or authentication."""

from __future__ import annotations

import asyncio
import json

import httpx

from api.body_limit import MAX_BODY_BYTES

CHUNK = 1024 * 1024


def _post_streamed(app, path: str, chunks, headers: dict[str, str]) -> httpx.Response:
    """POST through the ASGI app with a body from an async generator: chunked transfer
    encoding, each chunk handed to the app only when it asks for more."""

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.post(path, content=chunks, headers=headers)

    return asyncio.run(run())


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(client):
    pulled = 0

    async def endless():
        nonlocal pulled
        yield b"{"
        while pulled < 200:  # 200 MiB if nothing stopped reading it
            pulled += 1
            yield b" " * CHUNK

    # No token: a body this size must be refused before authentication is even looked at.
    response = _post_streamed(client.app, "/v1/events", endless(), {"Content-Type": "application/json"})
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert pulled <= MAX_BODY_BYTES // CHUNK + 1  # the generator stopped being pulled at the limit


def test_a_chunked_body_within_the_limit_is_read_and_processed(client, login):
    coi = client.post("/v1/cases", headers=login("nurse"), json={
        "kind": "autologous", "product": "p", "treating_site": "hospital-1", "mrn": "MRN-CHUNK-1"}
    ).json()["answer"]["coi"]
    body = json.dumps({"type": "CaseOnHold", "coi": coi, "data": {"reason": "waiting for a slot"}}).encode()

    async def chunks():
        yield body[:1]
        yield b" " * (2 * CHUNK)  # whitespace is valid JSON: a large but allowed body
        yield body[1:]

    response = _post_streamed(client.app, "/v1/events", chunks(),
                              {**login("nurse"), "Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert response.request.headers.get("transfer-encoding") == "chunked"


def test_a_declared_length_over_the_limit_is_refused_unread(client, login):
    huge = b"{" + b" " * (MAX_BODY_BYTES + 1) + b"}"
    response = client.post("/v1/events", headers={**login("nurse"), "Content-Type": "application/json"},
                           content=huge)
    assert response.status_code == 413 and response.json()["code"] == "PAYLOAD_TOO_LARGE"


def test_a_chunked_epcis_capture_over_the_limit_is_refused_too(client, login):
    async def endless():
        for _ in range(100):
            yield b" " * CHUNK

    response = _post_streamed(client.app, "/v1/epcis/capture", endless(),
                              {**login("nurse"), "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["code"] in ("PAYLOAD_TOO_LARGE", "EPCIS_TOO_LARGE")
