"""`ledger init` and `ledger verify` as an operator runs them: real processes, real databases."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from ledger.keys.keystore import KeyStore
from ledger.store.application import Draft, Ledger
from tests import tamper
from tests.support import core_catalogue


def run(args, env):
    return subprocess.run(
        [sys.executable, "-m", "ledger_cli.main", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.req("URS-P11-10a")
def test_init_then_verify_finds_tampering_and_exits_non_zero(database, tmp_path):
    env = {
        "LEDGER_DATABASE_URL": database.url,
        "LEDGER_KEYS_DIR": str(tmp_path / "keys"),
        "LEDGER_KEY_PASSPHRASE": "a long test passphrase",
        "LEDGER_ENV": "test",
        "LEDGER_SITE_SECRET": "cli site secret, long enough",
        "LEDGER_TOKEN_SECRET": "cli token secret, long enough",
    }
    init = run(["init"], env)
    assert init.returncode == 0, init.stderr
    key = KeyStore(tmp_path / "keys").active_key("a long test passphrase")
    app = Ledger(database, key, core_catalogue(), pool_size=1)
    stream = uuid.uuid4()
    for i in range(3):
        app.append([Draft("NoteAdded", stream, {"text": f"n{i}"}, actor="a")])
    app.close()

    intact = run(["verify"], env)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert intact.stdout.splitlines()[-1].startswith("intact: 3 events") and "intact" not in intact.stderr

    tamper.delete_event(database, stream, 2)
    broken = run(["verify", "--workers", "2"], env)
    assert broken.returncode == 1
    *lines, verdict = broken.stdout.strip().splitlines()  # findings (and notes), then the verdict, on stdout
    lines = [line for line in lines if not line.startswith("note: ")]
    assert lines and all(str(stream) in line for line in lines)
    assert any("seq 3" in line and "gap in stream" in line for line in lines)
    assert verdict.startswith(f"NOT intact: {len(lines)} findings")
    assert "intact" not in broken.stderr


def test_verify_refuses_to_run_without_keys(database, tmp_path):
    env = {"LEDGER_DATABASE_URL": database.url, "LEDGER_KEYS_DIR": str(tmp_path / "none")}
    result = run(["verify"], env)
    assert result.returncode == 2
    assert "key ring" in result.stderr


def test_production_mode_refuses_default_secrets(tmp_path):
    env = {"LEDGER_ENV": "production", "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite"}
    result = run(["init"], env)
    assert result.returncode == 2
    assert "LEDGER_KEY_PASSPHRASE" in result.stderr
