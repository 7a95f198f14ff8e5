"""Which database the ledger uses, from one URL (``LEDGER_DATABASE_URL``).

``sqlite:///relative/path`` or ``sqlite:////absolute/path`` (embedded default), or
``postgresql://user:password@host:port/dbname`` (psycopg 3, pooled by the library).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

DEFAULT_DATABASE_URL = "sqlite:///./var/ledger.sqlite"
SQLITE_EVENTS_TABLE = "stored_events"
POSTGRES_EVENTS_TABLE = "ledger_events"


@dataclass(frozen=True)
class Database:
    url: str
    kind: str  # "sqlite" | "postgres"
    path: Path | None = None
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""

    @classmethod
    def from_url(cls, url: str) -> Database:
        parts = urlsplit(url)
        if parts.scheme == "sqlite":
            raw = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
            if not raw:
                raise ValueError("a SQLite URL looks like sqlite:///var/ledger.sqlite")
            return cls(url=url, kind="sqlite", path=Path(raw))
        if parts.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
            dbname = parts.path.lstrip("/")
            if not dbname:
                raise ValueError("a PostgreSQL URL must name the database")
            return cls(
                url=url,
                kind="postgres",
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 5432,
                user=unquote(parts.username or "postgres"),
                password=unquote(parts.password or ""),
                dbname=dbname,
            )
        raise ValueError(f"unsupported database URL scheme {parts.scheme!r}: use sqlite or postgresql")

    @property
    def events_table(self) -> str:
        return SQLITE_EVENTS_TABLE if self.kind == "sqlite" else POSTGRES_EVENTS_TABLE

    def eventsourcing_env(self, *, pool_size: int = 10) -> dict[str, str]:
        """The ``eventsourcing`` environment for this database (tables come from alembic)."""
        common = {
            "CREATE_TABLE": "no",
        }
        if self.kind == "sqlite":
            assert self.path is not None
            return {
                **common,
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.path),
                "SQLITE_LOCK_TIMEOUT": "30",
                "APPLICATION_RECORDER_TOPIC": "ledger.store.recorders:LedgerSQLiteRecorder",
            }
        return {
            **common,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_POOL_SIZE": str(pool_size),
            "POSTGRES_MAX_OVERFLOW": str(pool_size),
            "POSTGRES_CONNECT_TIMEOUT": "5",
            # No ping before each use (it doubled the round trips of every read): a connection
            # that died with a PostgreSQL restart fails once, the library retries on another one,
            # and what still fails reaches the API as a 503 with Retry-After (drill R2).
            "POSTGRES_PRE_PING": "n",
            "POSTGRES_LOCK_TIMEOUT": "10",
            "APPLICATION_RECORDER_TOPIC": "ledger.store.recorders:LedgerPostgresRecorder",
        }

    def sqlalchemy_url(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.path}"
        from urllib.parse import quote

        auth = quote(self.user, safe="") + (f":{quote(self.password, safe='')}" if self.password else "")
        return f"postgresql+psycopg://{auth}@{self.host}:{self.port}/{self.dbname}"

    def psycopg_conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo

        extra = {"password": self.password} if self.password else {}
        return make_conninfo(
            host=self.host, port=self.port, user=self.user, dbname=self.dbname, **extra
        )
