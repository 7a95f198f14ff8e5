"""Transport (21 CFR 11.30, Annex 11 §12): `ledger serve` over TLS with HSTS; behind a TLS proxy
(``LEDGER_HTTPS``) HSTS and Secure portal cookies; plain HTTP has neither."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from api.app import create_app

from .portal.conftest import csrf_of


def self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.req("URS-P11-30")
def test_serve_with_tls_answers_https_with_hsts(tmp_path):
    cert, key = self_signed(tmp_path)
    env = {**os.environ, "LEDGER_ENV": "test", "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/l.sqlite",
           "LEDGER_KEYS_DIR": str(tmp_path / "keys"), "LEDGER_KEY_PASSPHRASE": "a long test passphrase",
           "LEDGER_SITE_SECRET": "tls site secret, long enough", "LEDGER_TOKEN_SECRET": "tls token secret, long",
           "LEDGER_HTTPS": "false"}
    command = [sys.executable, "-m", "ledger_cli.main"]
    assert subprocess.run([*command, "init"], env=env, capture_output=True, timeout=120).returncode == 0
    port = free_port()
    log = open(tmp_path / "serve.log", "ab")  # noqa: SIM115 - handed to the child
    server = subprocess.Popen([*command, "serve", "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key)],
                              env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    log.close()
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
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
    refused = subprocess.run([*command, "serve", "--tls-cert", str(cert)], env=env, capture_output=True, text=True,
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
