"""`ledger checkpoints publish|export` and `ledger verify --fast|--against` as an operator runs them."""

from __future__ import annotations

import uuid

import pytest

from ledger.keys.keystore import KeyStore
from ledger.store.application import Draft, Ledger
from tests import tamper
from tests.e2e.test_cli_verify import run
from tests.support import core_catalogue

PASSPHRASE = "a long test passphrase"


@pytest.fixture
def operator(database, tmp_path):
    """An initialised ledger with three streams, a checkpoint over them, and its environment."""
    env = {
        "LEDGER_DATABASE_URL": database.url,
        "LEDGER_KEYS_DIR": str(tmp_path / "keys"),
        "LEDGER_KEY_PASSPHRASE": PASSPHRASE,
        "LEDGER_ENV": "test",
        "LEDGER_SITE_SECRET": "cli site secret, long enough",
        "LEDGER_TOKEN_SECRET": "cli token secret, long enough",
    }
    assert run(["init"], env).returncode == 0
    app = Ledger(database, KeyStore(tmp_path / "keys").active_key(PASSPHRASE), core_catalogue(), pool_size=1)
    streams = [uuid.uuid4() for _ in range(3)]
    for i in range(9):
        app.append([Draft("NoteAdded", streams[i % 3], {"text": f"n{i}"}, actor="a")])
    app.close()
    published = run(["checkpoints", "publish"], env)
    assert published.returncode == 0, published.stderr
    assert "tree size 9" in published.stderr and published.stdout.startswith("coi-ledger.example/log\n9\n")
    return env, streams


def test_an_exported_witness_verifies_and_fast_mode_passes_on_an_intact_store(operator, tmp_path):
    env, _ = operator
    witness = tmp_path / "witness.txt"
    exported = run(["checkpoints", "export", "--output", str(witness)], env)
    assert exported.returncode == 0 and "exported 1 checkpoints" in exported.stderr
    assert witness.read_text().endswith("\n----\n")
    assert run(["checkpoints", "export"], env).stdout == witness.read_text()
    for args in (["verify"], ["verify", "--fast"], ["verify", "--against", str(witness)]):
        result = run(args, env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.splitlines()[-1].startswith("intact:")
        assert "Merkle tree of 9 leaves, 1 checkpoints" in result.stdout


def test_fast_mode_still_finds_a_changed_byte(operator, database):
    env, streams = operator
    state = tamper.read_state(database, streams[1], 2)
    tamper.write_state(database, streams[1], 2, state.replace(b'"n4"', b'"n5"'))
    result = run(["verify", "--fast"], env)
    assert result.returncode == 1, result.stderr
    assert f"stream {streams[1]} seq 2" in result.stdout and "hash mismatch" in result.stdout


def test_a_deleted_stream_is_found_and_named_even_without_a_witness(operator, database):
    env, streams = operator
    for seq in (1, 2, 3):
        tamper.delete_event(database, streams[0], seq)
    result = run(["verify", "--fast"], env)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert any(f"stream {streams[0]} seq 3" in line and "missing from log" in line for line in lines), lines
    assert any(line.startswith("log: checkpoint mismatch: checkpoint 9") for line in lines)


@pytest.mark.req("URS-OFF-1")
def test_against_finds_history_rewritten_after_the_witness_took_its_copy(operator, database, tmp_path):
    env, streams = operator
    witness = tmp_path / "witness.txt"
    assert run(["checkpoints", "export", "--output", str(witness)], env).returncode == 0
    # The attacker deletes a whole stream, then every trace of the old tree, and lets the
    # service re-sign the shortened log: the database alone now looks consistent.
    for seq in (1, 2, 3):
        tamper.delete_event(database, streams[2], seq)
    with tamper.owner_connection(database) as conn:
        for table in ("checkpoints", "merkle_nodes", "merkle_leaves", "projection_tracking"):
            conn.execute(f"DELETE FROM {table}")  # noqa: S608
    assert run(["checkpoints", "publish"], env).returncode == 0
    alone = run(["verify"], env)
    assert alone.returncode == 0, alone.stdout  # why witnesses matter
    result = run(["verify", "--against", str(witness)], env)
    assert result.returncode == 1, result.stderr
    assert "log: log rewritten: witness checkpoint 9" in result.stdout
    assert "log: missing checkpoint: witness checkpoint 9" in result.stdout


def test_a_damaged_witness_file_is_refused(operator, tmp_path):
    env, _ = operator
    bad = tmp_path / "bad.txt"
    bad.write_text("coi-ledger.example/log\n9\n")
    result = run(["verify", "--against", str(bad)], env)
    assert result.returncode == 2 and "witness file" in result.stderr
