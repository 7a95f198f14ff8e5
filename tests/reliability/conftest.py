"""Reliability drills R1-R8 (targets and drills: docs/RELIABILITY.md), marked ``reliability``.

Quick forms by default (part of ``make test`` and CI); ``LEDGER_DRILLS=full`` runs the full forms.
R2 restarts the shared PostgreSQL server: only when ``LEDGER_DRILLS`` includes ``pg-restart`` or
``CI=true``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bench.server import Server
from ledger.keys.keystore import KeyStore
from ledger.services.journeys import DEMO_PASSWORD, seed_identities
from ledger.settings import Settings
from ledger.store.database import Database

PASSPHRASE = "reliability drill passphrase"
DRILLS = {part.strip() for part in os.environ.get("LEDGER_DRILLS", "").split(",") if part.strip()}
FULL = "full" in DRILLS
REPORT = os.environ.get("LEDGER_DRILL_REPORT")  # a file: each drill appends one JSON line of figures


def report(drill: str, **figures) -> None:
    """Record what a drill measured (for docs/RELIABILITY.md) when LEDGER_DRILL_REPORT is set."""
    if REPORT:
        import json

        with open(REPORT, "a", encoding="utf-8") as out:
            out.write(json.dumps({"drill": drill, "full": FULL, **figures}) + "\n")


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)


@dataclass
class Served:
    """A ledger served by ``ledger serve`` on loopback, with what a client needs."""

    database: Database
    settings: Settings
    environ: dict[str, str]
    log: Path
    server: Server | None = None

    def start(self, workers: int = 1) -> Server:
        port = self.server.port if self.server else None
        self.server = Server(self.environ, self.log, workers=workers, port=port)
        self.server.wait_ready()
        return self.server

    def token(self, user: str) -> str:
        assert self.server is not None
        return self.server.token(user, DEMO_PASSWORD)

    def client(self, user: str) -> httpx.Client:
        assert self.server is not None
        return httpx.Client(base_url=self.server.url, timeout=30,
                            headers={"Authorization": f"Bearer {self.token(user)}"})


def make_served(database: Database, tmp_path: Path) -> Served:
    keys = tmp_path / "keys"
    KeyStore(keys).create(PASSPHRASE)
    secrets = {"site_secret": "drill site secret, long enough", "token_secret": "drill token secret, long enough"}
    settings = Settings(env="test", database_url=database.url, keys_dir=keys, key_passphrase=PASSPHRASE,
                        insecure_fast_hashing=True, run_projections=False, checkpoint_every_events=1, **secrets)
    from api.container import build_container

    container = build_container(settings)
    try:
        seed_identities(container.services)
    finally:
        container.close()
    environ = {**os.environ, "LEDGER_ENV": "test", "LEDGER_DATABASE_URL": database.url,
               "LEDGER_KEYS_DIR": str(keys), "LEDGER_KEY_PASSPHRASE": PASSPHRASE,
               "LEDGER_SITE_SECRET": secrets["site_secret"], "LEDGER_TOKEN_SECRET": secrets["token_secret"],
               "LEDGER_INSECURE_FAST_HASHING": "true", "LEDGER_CHECKPOINT_EVERY_EVENTS": "50"}
    return Served(database, settings, environ, tmp_path / "server.log")


@pytest.fixture
def served(database, tmp_path) -> Iterator[Served]:
    drill = make_served(database, tmp_path)
    yield drill
    if drill.server is not None:
        drill.server.stop()
