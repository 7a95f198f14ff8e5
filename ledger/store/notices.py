"""Change notices: "this stream / this token changed", told to every process of one database.

What a process caches about who a caller is (``api.principals``) must be dropped as soon as the
facts behind it change anywhere: a token revoked, refreshed or signed out, a user deactivated,
locked, re-roled, re-sited or (un)trained, a device deactivated. Writers announce such changes:

* in their own process at once (``publish``: a process-wide bus keyed by the database's URL, so
  every container of this process on the same database hears it; SQLite has only this);
* on PostgreSQL also to every other process, with ``pg_notify`` on ``CHANNEL`` inside the
  writing transaction: delivered at commit, and only if it commits. ``Listener`` is one
  thread per process that LISTENs and republishes on the bus.

A notice is a short text: ``s:<stream uuid>`` (an event of a ``watched`` type was appended to
that stream), ``t:<token digest>`` (one token ended), ``p:<principal>`` (all its tokens ended).
The listener also publishes ``RESET`` whenever it (re)connects or loses its connection: notices
may have been missed, so a subscriber drops everything.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from .database import Database

CHANNEL = "ledger_changed"
RESET = "*"  # "anything may have changed" (listener (re)connected or lost)

log = logging.getLogger("ledger.notices")

Subscriber = Callable[[str], None]


def stream_notice(stream: UUID) -> str:
    return f"s:{stream.hex}"


def token_notice(token_digest: str) -> str:
    return f"t:{token_digest}"


def principal_notice(principal: str) -> str:
    return f"p:{principal}"


@dataclass(frozen=True)
class NoticeRow:
    """A notice sent inside an append's transaction (carried with its claim rows to the recorder)."""

    notice: str


class _Bus:
    """Process-wide: subscribers by database URL."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, list[Subscriber]] = defaultdict(list)

    def subscribe(self, url: str, subscriber: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers[url].append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers.get(url, []):
                    self._subscribers[url].remove(subscriber)

        return unsubscribe

    def publish(self, url: str, notices: Iterable[str]) -> None:
        with self._lock:
            subscribers = list(self._subscribers.get(url, ()))
        if not subscribers:
            return
        for notice in notices:
            for subscriber in subscribers:
                try:
                    subscriber(notice)
                except Exception:  # one subscriber's failure must not hide a notice from the others
                    log.exception("a notice subscriber failed")


BUS = _Bus()


def subscribe(url: str, subscriber: Subscriber) -> Callable[[], None]:
    """Call ``subscriber(notice)`` for every notice about database ``url`` in this process (from
    this process's writers, and, with a ``Listener`` running, from every other process)."""
    return BUS.subscribe(url, subscriber)


def publish(url: str, notices: Iterable[str]) -> None:
    """Tell this process's subscribers (after the change committed)."""
    BUS.publish(url, list(notices))


class Listener:
    """One thread: LISTEN on ``CHANNEL`` of a PostgreSQL database and republish on the bus.

    ``connected`` is set while notices are being received; subscribers should not trust what
    they cached while it is clear (``RESET`` is published on every connect and disconnect)."""

    def __init__(self, url: str, conninfo: str, *, retry_seconds: float = 1.0) -> None:
        self.url = url
        self.conninfo = conninfo
        self.retry_seconds = retry_seconds
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-notices", daemon=True)

    @classmethod
    def for_database(cls, database: Database) -> Listener:
        return cls(database.url, database.psycopg_conninfo())

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    publish(self.url, [RESET])  # whatever was cached before may have missed notices
                    while not self._stop.is_set():
                        batch = [n.payload for n in conn.notifies(timeout=0.5, stop_after=1000)]
                        if batch:
                            publish(self.url, batch)
            except Exception:  # noqa: BLE001 - an outage: reconnect, and let no cache be trusted meanwhile
                log.warning("the change-notice listener lost its connection; reconnecting", exc_info=True)
            finally:
                if self.connected.is_set():
                    self.connected.clear()
                    publish(self.url, [RESET])
            self._stop.wait(self.retry_seconds)
