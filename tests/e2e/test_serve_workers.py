"""``ledger serve --workers 2``: connections opened together are accepted by both workers (each
listens on its own socket, ``ledger_cli.listening``), not all by whichever woke first."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from .served import free_port, initialised, serve, stop

pytestmark = [pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT groups are Linux's"),
              pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")]


def _pids(port: int, state: str) -> set[int]:
    """The processes holding sockets of ``port`` in ``state`` (``ss`` state names)."""
    held = subprocess.run(["ss", "-tnpH", "state", state, f"( sport = :{port} )"],
                          capture_output=True, text=True, check=True).stdout
    return {int(pid) for pid in re.findall(r"pid=(\d+)", held)}


def _request(conn: socket.socket) -> None:
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert conn.recv(100).startswith(b"HTTP/1.1 200")


def test_two_workers_share_connections_opened_together(tmp_path):
    env = initialised(tmp_path, LEDGER_RUN_PROJECTIONS="false")
    port = free_port()
    server = serve(env, tmp_path / "serve.log", "--port", str(port), "--workers", "2")
    connections: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 120
        while len(_pids(port, "listening")) < 2:  # each worker listens once it has started
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10).status == 200
        for _ in range(4):  # four bursts: with one shared socket, about one in three went to one worker
            # sixteen connections at once (the handshakes complete before any worker accepts),
            # then one request on each, kept open
            connections = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(16)]
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(_request, connections))
            workers = _pids(port, "established")
            assert server.pid not in workers  # the supervisor itself accepts nothing
            assert len(workers) == 2, workers  # sixteen in one worker: ~1 in 30,000 with the kernel's hash
            for conn in connections:
                conn.close()
            connections = []
    finally:
        for conn in connections:
            conn.close()
        stop(server)
