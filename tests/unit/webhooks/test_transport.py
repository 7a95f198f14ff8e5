"""The delivery transport against real local servers: https to the checked address with the URL's
host name as SNI and certificate name (a certificate for another name is refused), no redirect
followed, a long answer read only up to the limit, and every exchange ended by its deadline."""

from __future__ import annotations

import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ledger.webhooks.targets import Target
from ledger.webhooks.transport import SendFailed, Transport
from tests.support import self_signed_certificate

NAME = "hooks.example.test"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    answers: dict[str, tuple[int, bytes, dict[str, str]]] = {}
    seen: list[tuple[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server name
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.seen.append((self.path, self.headers.get("host", "")))
        status, body, headers = self.answers.get(self.path, (204, b"", {}))
        self.send_response(status)
        for name, value in {**headers, "content-length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[ThreadingHTTPServer, list[str], Path]]:
    cert_file, key_file = self_signed_certificate(tmp_path, NAME)
    names: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    _Handler.seen = []
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd, names, cert_file
    httpd.shutdown()
    httpd.server_close()


def _target(port: int, host: str = NAME, path: str = "/hook") -> Target:
    return Target("https", host, port, path, "127.0.0.1")


def _transport(cert_file: Path, max_body: int = 1024) -> Transport:
    return Transport(timeout=2.0, connections=2, max_body=max_body,
                     ssl_context=ssl.create_default_context(cafile=str(cert_file)))


def test_https_goes_to_the_checked_address_with_the_urls_host_name(server):
    httpd, names, cert_file = server
    transport = _transport(cert_file)
    target = _target(httpd.server_address[1])
    try:
        headers = {"host": target.host_header, "content-type": "application/json"}
        assert transport.post(target, b"{}", headers) == 204
        assert transport.post(target, b"{}", headers) == 204  # the kept connection
    finally:
        transport.close()
    assert names == [NAME]  # one TLS handshake, naming the host, not the address
    assert _Handler.seen == [("/hook", f"{NAME}:{httpd.server_address[1]}")] * 2


def test_a_certificate_for_another_name_is_refused(server):
    httpd, _names, cert_file = server
    transport = _transport(cert_file)
    try:
        with pytest.raises(SendFailed):
            transport.post(_target(httpd.server_address[1], host="elsewhere.example.test"), b"{}", {})
    finally:
        transport.close()
    assert _Handler.seen == []


def test_no_redirect_is_followed_and_a_long_answer_is_read_only_up_to_the_limit(server):
    httpd, _names, cert_file = server
    port = httpd.server_address[1]
    _Handler.answers = {"/moved": (307, b"", {"location": f"https://{NAME}:{port}/hook"}),
                        "/long": (200, b"x" * 5000, {})}
    transport = _transport(cert_file, max_body=1024)
    try:
        assert transport.post(_target(port, path="/moved"), b"{}", {}) == 307
        assert transport.post(_target(port, path="/long"), b"{}", {}) == 200
        assert transport.post(_target(port, path="/hook"), b"{}", {}) == 204  # a new connection after the long one
    finally:
        transport.close()
        _Handler.answers = {}
    assert [path for path, _ in _Handler.seen] == ["/moved", "/long", "/hook"]  # /hook only once: not followed


def test_nothing_listening_is_a_send_failure(tmp_path):
    cert_file, _key = self_signed_certificate(tmp_path, NAME)
    transport = _transport(cert_file)
    try:
        with pytest.raises(SendFailed):
            transport.post(Target("http", "127.0.0.1", 9, "/", "127.0.0.1"), b"{}", {})
    finally:
        transport.close()


def test_the_address_connected_to_is_never_resolved_again():
    target = Target("http", "resolves-elsewhere.example.test", 80, "/", str(ipaddress.ip_address("127.0.0.1")))
    transport = Transport(timeout=0.5, connections=1, max_body=10)
    try:
        pool = transport._pool(target)
        assert pool.host == "127.0.0.1"
    finally:
        transport.close()


class _Dribbling(BaseHTTPRequestHandler):
    """Answers a byte every 0.2 s, for up to 30 s: each wait is short, the whole is not."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - the http.server name
        self.rfile.read(int(self.headers.get("content-length", "0")))
        slow = self.path == "/slow-head"
        with suppress(OSError):
            if slow:  # the status line itself, a byte at a time
                for byte in b"HTTP/1.1 200 OK\r\n":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)
            self.send_response(200)
            self.send_header("content-length", "150")
            self.end_headers()
            for _ in range(150):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def dribbler() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Dribbling)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("path", ["/slow-head", "/slow-body"])
def test_an_answer_dribbled_out_ends_at_the_deadline(dribbler, path):
    """Each byte comes well within the timeout; the exchange still ends at its deadline. A status
    line that came counts (the rest is not waited for); a status line never finished is no answer."""
    transport = Transport(timeout=1.0, connections=1, max_body=1024)
    target = Target("http", "127.0.0.1", dribbler, path, "127.0.0.1")
    started = time.monotonic()
    try:
        if path == "/slow-head":
            with pytest.raises(SendFailed, match="deadline"):
                transport.post(target, b"{}", {})
        else:
            assert transport.post(target, b"{}", {}) == 200
        assert time.monotonic() - started < 5  # a 1 s deadline; without the watchdog ~33 s
        started = time.monotonic()
        with pytest.raises(SendFailed):  # an earlier deadline is kept to: nothing is sent after it
            transport.post(target, b"{}", {}, deadline=time.monotonic() - 0.1)
        assert time.monotonic() - started < 0.5  # refused before connecting
    finally:
        transport.close()
