"""``ledger subscriptions`` and ``ledger deliver`` as processes: an integrator manages its own
subscription from a terminal (the secret printed once), and a separate delivery process sends the
queued events to a real receiver, signed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from standardwebhooks import Webhook

from api.container import build_container
from bench.receiver import Receiver
from ledger.keys.keystore import KeyStore
from ledger.services.journeys import DEMO_PASSWORD, seed_identities
from ledger.settings import Settings
from tests.e2e.test_cli_verify import run

PASSPHRASE = "a long test passphrase"


def test_an_integrator_manages_a_subscription_and_ledger_deliver_sends(database, tmp_path):
    KeyStore(tmp_path / "keys").create(PASSPHRASE)
    env = {"LEDGER_DATABASE_URL": database.url, "LEDGER_KEYS_DIR": str(tmp_path / "keys"),
           "LEDGER_KEY_PASSPHRASE": PASSPHRASE, "LEDGER_ENV": "test", "LEDGER_INSECURE_FAST_HASHING": "true",
           "LEDGER_SITE_SECRET": "cli site secret, long enough", "LEDGER_TOKEN_SECRET": "cli token secret, long enough",
           "LEDGER_WEBHOOK_ALLOW_PRIVATE": "true", "LEDGER_CLI_USER": "integrator",
           "LEDGER_CLI_PASSWORD": DEMO_PASSWORD}
    settings = Settings(**{k[7:].lower(): v for k, v in env.items() if k.startswith("LEDGER_") and "CLI" not in k})
    container = build_container(settings.model_copy(update={"run_projections": False}))
    try:
        seed_identities(container.services)
    finally:
        container.close()
    receiver = Receiver()
    try:
        made = run(["subscriptions", "create", receiver.url, "--type", "CaseEnrolled", "--site", "hospital-1"], env)
        assert made.returncode == 0, made.stderr
        lines = dict(line.split(" ", 1) for line in made.stdout.splitlines())
        sub, secret = lines["subscription"], lines["secret"].split()[0]
        assert secret.startswith("whsec_")
        refused = run(["subscriptions", "create", receiver.url, "--type", "CaseEnrolled"],
                      {**env, "LEDGER_CLI_USER": "nurse"})
        assert refused.returncode == 1 and "FORBIDDEN" in refused.stderr
        shown = run(["subscriptions", "list", "--format", "json"], env).stdout
        listed = [json.loads(line) for line in shown.splitlines()]
        assert [(s["subscription_id"], s["status"], s["sites"]) for s in listed] == [(sub, "active", ["hospital-1"])]
        assert secret not in json.dumps(listed)

        container = build_container(settings.model_copy(update={"run_projections": False}))
        try:
            from ledger.services.executor import Context
            container.services.cases.enrol(Context(actor="nurse", site="hospital-1"), kind="autologous",
                                           product="CAR-T", treating_site="hospital-1", mrn="MRN-CLI-W")
        finally:
            container.close()
        deliverer = subprocess.Popen([sys.executable, "-m", "ledger_cli.main", "deliver"],  # noqa: S603
                                     env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            # `ledger deliver` follows behind the read models: the CLI's listing brings them up to date
            assert run(["subscriptions", "list"], env).returncode == 0
            assert receiver.wait_for(1, timeout=30), "ledger deliver sent nothing"
        finally:
            deliverer.send_signal(signal.SIGTERM)
            deliverer.wait(timeout=30)
        got = receiver.received[0]
        Webhook(secret).verify(got.body, got.headers)
        assert got.json["type"] == "CaseEnrolled" and "MRN-CLI-W" not in got.body
        shown = run(["subscriptions", "deliveries", sub, "--format", "json"], env)
        assert [json.loads(line)["status"] for line in shown.stdout.splitlines()] == ["delivered"]
        for verb in ("pause", "resume", "delete"):
            assert run(["subscriptions", verb, sub], env).returncode == 0
        again = run(["subscriptions", "delete", sub], env)
        assert again.returncode == 1 and "SUBSCRIPTION_DELETED" in again.stderr
    finally:
        receiver.down()
