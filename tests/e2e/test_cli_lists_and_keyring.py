"""What the README tells a newcomer to run, as processes: the read-only lists (cases, users,
sites) that append nothing, and the published key ring that `ledger verify --keys` accepts."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.keys.keystore import KeyStore
from ledger.services.journeys import DEMO_USERS
from ledger.settings import Settings
from ledger.verification.verify import total_events
from tests.e2e.test_cli_verify import run

PASSPHRASE = "a long test passphrase"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One `ledger init` + `ledger demo` per database kind (the demo is slow)."""
    made = {}

    def make(database, tmp_path):
        if database.url not in made:
            env = {"LEDGER_DATABASE_URL": database.url, "LEDGER_KEYS_DIR": str(tmp_path / "keys"),
                   "LEDGER_KEY_PASSPHRASE": PASSPHRASE, "LEDGER_ENV": "test",
                   "LEDGER_SITE_SECRET": "cli site secret, long enough",
                   "LEDGER_TOKEN_SECRET": "cli token secret, long enough"}
            assert run(["init"], env).returncode == 0
            shown = run(["demo"], env)
            assert shown.returncode == 0, shown.stderr
            made[database.url] = env, json.loads(shown.stdout.strip().splitlines()[-1])
        return made[database.url]

    return make


def test_lists_read_without_appending(database, tmp_path, demo):
    env, cois = demo(database, tmp_path)
    before = total_events(database)
    listed = run(["cases", "list", "--kind", "autologous", "--format", "coi"], env)
    assert listed.returncode == 0, listed.stderr
    # enrolment order; the demo's orders are for cases of their own (ledger.services.network_demo)
    assert listed.stdout.split() == [cois["autologous"], cois["awaiting_review"], *cois["order_cases"]]
    cases = [json.loads(line) for line in run(["cases", "list", "--format", "json"], env).stdout.splitlines()]
    assert [c["coi"] for c in cases] == [cois["autologous"], cois["donor"], *cois["patients"], cois["awaiting_review"],
                                         *cois["order_cases"]]
    assert all("patient_ref" not in c for c in cases)
    users = [json.loads(line) for line in run(["users", "list", "--format", "json"], env).stdout.splitlines()]
    assert {u["user"]: (u["printed_name"], u["roles"], u["sites"]) for u in users} == {
        user: (name, roles, sites) for user, (name, roles, sites) in DEMO_USERS.items()}
    assert {u["state"] for u in users} == {"active"}
    sites = [json.loads(line) for line in run(["sites", "list", "--format", "json"], env).stdout.splitlines()]
    assert [s["site"] for s in sites] == ["hospital-1", "factory-1", "courier-hub-1", "hospital-2", "hospital-3",
                                          "plant-us"]
    table = run(["sites", "list"], env).stdout.splitlines()
    assert table[0].split() == ["site", "name", "kind", "gln"] and table[1].startswith("hospital-1")
    assert total_events(database) == before  # nothing appended: the README may run these again and again


def test_the_published_key_ring_is_what_verify_takes(database, tmp_path, demo):
    env, _ = demo(database, tmp_path)
    settings = Settings(env="test", database_url=database.url, keys_dir=env["LEDGER_KEYS_DIR"],
                        key_passphrase=PASSPHRASE, site_secret="cli site secret, long enough",
                        token_secret="cli token secret, long enough", run_projections=False)
    with TestClient(create_app(settings)) as client:
        published = client.get("/v1/ledger/keys")  # the README: curl .../v1/ledger/keys > published-keyring.json
    assert published.status_code == 200
    ring = tmp_path / "published-keyring.json"
    ring.write_bytes(published.content)
    verified = run(["verify", "--keys", str(ring)], env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.splitlines()[-1].startswith("intact:")
    stranger = KeyStore(tmp_path / "other-keys")
    stranger.create("another passphrase, long")
    ring.write_text(json.dumps(stranger.key_ring().to_json()))
    refused = run(["verify", "--keys", str(ring)], env)  # --keys really decides what is trusted
    assert refused.returncode == 1 and "unknown key" in refused.stdout
