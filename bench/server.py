"""A ``ledger serve`` subprocess on loopback and the wrk load generator (a separate process)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

LUA_DIR = Path(__file__).parent / "lua"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``ledger serve --workers N``; its stdout/stderr go to ``log``."""

    def __init__(self, environ: dict[str, str], log: Path, *, workers: int = 1, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        ledger = str(Path(sys.executable).with_name("ledger"))
        with log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603 - our own CLI
                [ledger, "serve", "--port", str(self.port), "--workers", str(workers)],
                env=environ, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}): see {self.log}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not become ready: see {self.log}")

    def token(self, user: str, password: str) -> str:
        response = httpx.post(f"{self.url}/v1/auth/token", data={"username": user, "password": password}, timeout=30)
        response.raise_for_status()
        return response.json()["access_token"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Server:
        self.wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wrk(url: str, script: str, *, connections: int, seconds: float, threads: int = 2,
        env: dict[str, str] | None = None) -> dict:
    """Run wrk with ``bench/lua/<script>`` and return its JSON summary (latencies in ms)."""
    import os

    cmd = ["wrk", "-t", str(min(threads, connections)), "-c", str(connections), "-d", f"{seconds}s",
           "--timeout", "30s", "-s", str(LUA_DIR / script), url]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})},  # noqa: S603
                          timeout=seconds + 120, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {done.stdout}\n{done.stderr}")
    return json.loads(line[5:])
