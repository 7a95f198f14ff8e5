"""``ledger serve`` as its own process, on a fresh SQLite ledger (the CLI's ``init``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "ledger_cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def initialised(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh ledger in ``tmp_path``, initialised."""
    env = {**os.environ, "LEDGER_ENV": "test", "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/l.sqlite",
           "LEDGER_KEYS_DIR": str(tmp_path / "keys"), "LEDGER_KEY_PASSPHRASE": "a long test passphrase",
           "LEDGER_SITE_SECRET": "served site secret, long enough", "LEDGER_TOKEN_SECRET": "served token secret, long",
           **extra}
    assert subprocess.run([*CLI, "init"], env=env, capture_output=True, timeout=120).returncode == 0
    return env


def serve(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    """``ledger serve *args``, its output in ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen([*CLI, "serve", *args], env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL)


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(5)
