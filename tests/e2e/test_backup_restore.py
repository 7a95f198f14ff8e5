"""Restore drill and migration proof (Annex 11 §7, §17): real CLI processes, SQLite AND PostgreSQL.

A ledger with the demo journeys is backed up, restored into a fresh database and proven equal
(same tree head at the same size, consistency proof from the source's signed checkpoint, every
event verified); a backup with one byte changed is not proven; a migration to the other store
is proven the same way. The whole-ledger archive verifies offline and fails when tampered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ledger.store.database import Database
from ledger.store.rawstore import connect, count_events
from tests.conftest import _admin_conninfo, _pg_url


def run(args, env):
    return subprocess.run([sys.executable, "-m", "ledger_cli.main", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def cli_env(database, tmp_path) -> dict[str, str]:
    env = {
        "LEDGER_DATABASE_URL": database.url, "LEDGER_KEYS_DIR": str(tmp_path / "keys"),
        "LEDGER_KEY_PASSPHRASE": "a long test passphrase", "LEDGER_ENV": "test",
        "LEDGER_SITE_SECRET": "drill site secret, long enough", "LEDGER_TOKEN_SECRET": "drill token secret, long",
        "LEDGER_INSECURE_FAST_HASHING": "1",
    }
    for step in (["init"], ["demo"]):
        done = run(step, env)
        assert done.returncode == 0, done.stderr
    return env


@pytest.fixture
def fresh_url(tmp_path) -> Iterator:
    """``fresh_url(kind)``: the URL of a new, empty (not migrated) database of that kind."""
    created: list[str] = []

    def make(kind: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{tmp_path}/fresh-{uuid.uuid4().hex[:8]}.sqlite"
        name = f"ledger_fresh_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return _pg_url(name)

    yield make
    with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
        for name in created:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cases(env, url):
    listed = run(["cases", "list", "--format", "json"], {**env, "LEDGER_DATABASE_URL": url})
    assert listed.returncode == 0, listed.stderr
    return [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]


def events_in(url: str) -> int:
    database = Database.from_url(url)
    with connect(database) as conn:
        return count_events(database, conn)


@pytest.mark.req("URS-P11-10c", "URS-A11-7-2")
def test_restore_drill_proves_the_restored_ledger_equal(database, cli_env, fresh_url, tmp_path):
    backup = tmp_path / "ledger.backup.jsonl"
    made = run(["backup", str(backup)], cli_env)
    assert made.returncode == 0, made.stderr
    header = json.loads(backup.read_text(encoding="utf-8").splitlines()[0])
    size = header["events"]
    assert size > 50 and header["checkpoint"]["tree_size"] == size  # the backup's size is signed

    target = fresh_url(database.kind)
    restored = run(["restore", str(backup), "--database-url", target], cli_env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert f"consistency proof {size} -> {size} (0 hashes): verified" in restored.stdout
    assert restored.stdout.strip().splitlines()[-1].startswith(f"proven: the target holds the same ledger ({size}")
    assert cases(cli_env, target) == cases(cli_env, database.url)  # read models rebuilt
    again = run(["verify", "--database-url", target], cli_env)
    assert again.returncode == 0 and "intact" in again.stdout

    refused = run(["restore", str(backup), "--database-url", target], cli_env)  # never over a ledger
    assert refused.returncode == 2 and "not empty" in refused.stderr


@pytest.mark.req("URS-A11-7-2")
def test_a_backup_with_one_byte_changed_is_not_proven(database, cli_env, fresh_url, tmp_path):
    backup = tmp_path / "ledger.backup.jsonl"
    assert run(["backup", str(backup)], cli_env).returncode == 0
    lines = backup.read_text(encoding="utf-8").splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines) if "CaseEnrolled" in line)
    lines[number] = lines[number].replace("CaseEnrolled", "CaseEnrolleD", 1)  # one byte of an event
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("".join(lines), encoding="utf-8")

    restored = run(["restore", str(tampered), "--database-url", fresh_url(database.kind)], cli_env)
    assert restored.returncode == 1, restored.stdout + restored.stderr
    assert "hash mismatch" in restored.stdout
    assert "NOT proven: the target does not equal the source" in restored.stdout

    # the stored hash changed instead: the rebuilt tree no longer reproduces the signed checkpoint
    lines = backup.read_text(encoding="utf-8").splitlines(keepends=True)
    event = json.loads(lines[5])
    state = json.loads(event["state"])
    flipped = ("0" if state["hash"][0] != "0" else "1") + state["hash"][1:]
    lines[5] = lines[5].replace(state["hash"], flipped)
    tampered.write_text("".join(lines), encoding="utf-8")
    restored = run(["restore", str(tampered), "--database-url", fresh_url(database.kind)], cli_env)
    assert restored.returncode == 1, restored.stdout + restored.stderr
    assert "NOT proven" in restored.stdout

    # a truncated backup restores nothing at all
    target = fresh_url(database.kind)
    tampered.write_text("".join(lines[:-1]), encoding="utf-8")
    restored = run(["restore", str(tampered), "--database-url", target], cli_env)
    assert restored.returncode == 1 and "truncated" in restored.stderr
    assert events_in(target) == 0


@pytest.mark.req("URS-A11-4-8")
def test_migration_to_the_other_store_is_proven(database, cli_env, fresh_url):
    other = "postgres" if database.kind == "sqlite" else "sqlite"
    target = fresh_url(other)
    moved = run(["migrate", "--to", target], cli_env)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "verified" in moved.stdout and "proven: the target holds the same ledger" in moved.stdout
    assert events_in(target) == events_in(database.url)
    assert cases(cli_env, target) == cases(cli_env, database.url)

    refused = run(["migrate", "--to", target], cli_env)
    assert refused.returncode == 2 and "not empty" in refused.stderr


def verify_archive(*args):
    tool = Path(__file__).resolve().parents[2] / "tools" / "verify_archive.py"
    return subprocess.run([sys.executable, str(tool), *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.mark.req("URS-A11-17")
def test_the_whole_ledger_archive_verifies_offline_and_fails_when_tampered(database, cli_env, tmp_path):
    assert run(["demo"], cli_env).returncode == 0  # a second journey: two signed checkpoints at least
    assert run(["export", "archive", str(tmp_path / "archive.zip")], cli_env).returncode == 0
    made = run(["export", "archive", str(tmp_path / "archive")], cli_env)
    assert made.returncode == 0, made.stderr
    manifest = json.loads((tmp_path / "archive" / "manifest.json").read_text())
    assert len(manifest["dossiers"]) == len(cases(cli_env, database.url)) and manifest["consistency"]

    ring = tmp_path / "keys" / "keyring.json"
    for target in (tmp_path / "archive", tmp_path / "archive.zip"):
        checked = verify_archive(target, "--keys", ring)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout.startswith(f"intact: {len(manifest['dossiers'])} case dossiers")

    dossier = tmp_path / "archive" / manifest["dossiers"][0]["file"]
    dossier.write_text(dossier.read_text().replace('"seq": 2', '"seq": 3', 1))
    tampered = verify_archive(tmp_path / "archive")
    assert tampered.returncode == 1 and "changed (SHA-256 differs from the manifest)" in tampered.stdout
    assert "hash mismatch" in tampered.stdout

    dossier.unlink()
    notes = (tmp_path / "archive" / "checkpoints.txt")
    notes.write_text(notes.read_text().replace("\n----\n", "\n----\n\n", 1))  # harmless: blank lines are ignored
    missing = verify_archive(tmp_path / "archive")
    assert missing.returncode == 1 and f"{manifest['dossiers'][0]['file']}: missing" in missing.stdout
