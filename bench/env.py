"""Scratch ledgers for the benchmarks: a database (SQLite file or a fresh PostgreSQL database),
sealing keys, settings, migrations, demo identities. Everything is removed by ``drop()``."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

from ledger.keys.keystore import KeyStore
from ledger.settings import Settings
from ledger.store import migrations
from ledger.store.database import Database

PG_ADMIN_URL = os.environ.get("LEDGER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSPHRASE = "bench sealing passphrase"  # noqa: S105 - scratch keys, deleted after the run
SECRETS = {"site_secret": "bench site secret, long enough", "token_secret": "bench token secret, long enough"}


def pg_url(dbname: str) -> str:
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{dbname}"


def pg_admin() -> psycopg.Connection:
    return psycopg.connect(Database.from_url(PG_ADMIN_URL).psycopg_conninfo(), autocommit=True)


def create_pg_database(prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_pg_database(name: str) -> None:
    with pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class BenchLedger:
    """One scratch ledger: its directory (keys, SQLite file, logs) and its settings."""

    kind: str
    workdir: Path
    settings: Settings
    pg_name: str | None = None

    @classmethod
    def create(cls, kind: str, label: str = "bench") -> BenchLedger:
        workdir = Path(tempfile.mkdtemp(prefix=f"{label}-"))
        KeyStore(workdir / "keys").create(PASSPHRASE)
        pg_name = None
        if kind == "sqlite":
            url = f"sqlite:///{workdir}/ledger.sqlite"
        else:
            pg_name = create_pg_database(f"{label}_pg")
            url = pg_url(pg_name)
        settings = Settings(env="test", database_url=url, keys_dir=workdir / "keys", key_passphrase=PASSPHRASE,
                            insecure_fast_hashing=True, run_projections=False, pool_size=8, **SECRETS)
        migrations.upgrade(settings.database)
        return cls(kind, workdir, settings, pg_name)

    @property
    def database(self) -> Database:
        return self.settings.database

    def environ(self, **extra: str) -> dict[str, str]:
        """The environment a ``ledger`` subprocess needs to open this ledger."""
        env = dict(os.environ)
        env.update({
            "LEDGER_ENV": "test", "LEDGER_DATABASE_URL": self.settings.database_url,
            "LEDGER_KEYS_DIR": str(self.workdir / "keys"), "LEDGER_KEY_PASSPHRASE": PASSPHRASE,
            "LEDGER_SITE_SECRET": SECRETS["site_secret"], "LEDGER_TOKEN_SECRET": SECRETS["token_secret"],
            "LEDGER_INSECURE_FAST_HASHING": "true",
        })
        env.update(extra)
        return env

    def container(self, **updates):
        from api.container import build_container

        return build_container(self.settings.model_copy(update=updates))

    def drop(self) -> None:
        if self.pg_name:
            drop_pg_database(self.pg_name)
        shutil.rmtree(self.workdir, ignore_errors=True)
