"""Transport (21 CFR 11.30, Annex 11 §12): `ledger serve` over TLS with HSTS; behind a TLS proxy
(``LEDGER_HTTPS``) HSTS and Secure portal cookies; plain HTTP has neither."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.support import self_signed_certificate

from .portal.conftest import csrf_of
from .served import CLI, free_port, initialised, serve, stop


@pytest.mark.req("URS-P11-30")
def test_serve_with_tls_answers_https_with_hsts(tmp_path):
    cert, key = self_signed_certificate(tmp_path, "localhost")
    env = initialised(tmp_path, LEDGER_HTTPS="false")
    port = free_port()
    server = serve(env, tmp_path / "serve.log", "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key))
    context = ssl.create_default_context(cafile=str(cert))
    try:
        deadline, answer = time.monotonic() + 60, None
        while answer is None:
            try:
                answer = urllib.request.urlopen(f"https://localhost:{port}/healthz", context=context, timeout=5)
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.3)
        assert answer.status == 200
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as plain:  # plain HTTP is not served
            plain.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            with contextlib.suppress(TimeoutError):  # no answer at all is as good
                assert not plain.recv(100).startswith(b"HTTP/1.1 200")
    finally:
        stop(server)
    refused = subprocess.run([*CLI, "serve", "--tls-cert", str(cert)], env=env, capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode == 2 and "--tls-key" in refused.stderr


def test_behind_a_tls_proxy_hsts_and_secure_portal_cookies(settings):
    with TestClient(create_app(settings.model_copy(update={"https": True}))) as client:
        answer = client.get("/healthz")
        assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        form = client.get("/portal/login")
        assert "secure" in form.headers["set-cookie"].lower()
        assert csrf_of(form.text)


def test_plain_http_has_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
