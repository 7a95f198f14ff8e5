"""Who a bearer token speaks for, looked up once per token and kept in the process.

Resolving a token costs two queries (its ``access_tokens`` row, the holder's stream); every
request needs it. ``PrincipalCache`` keeps, per token digest, what those queries returned: the
token's record and the holder's folded state (a device's, or a user's with their qualification).
Everything that depends on the clock (expiry, training that lapses, a password that falls due)
is still judged on every request from those facts (``api.deps.get_principal``).

An entry is dropped as soon as the facts behind it change anywhere (``ledger.store.notices``:
the token ended, or an event of ``PRINCIPAL_EVENTS`` was appended to the holder's stream): at
once in the writing process, and on PostgreSQL in every other process through its listener.
While that listener is not connected (starting, or after losing its connection) nothing is
served from the cache. ``ttl`` bounds how long any entry lives regardless, as a backstop. On
SQLite a change made by another process (the ``ledger`` CLI beside a running server revoking a
token or deactivating a user) reaches no bus at all, so there an entry lives ``SQLITE_TTL_SECONDS``
only: that is the longest a revocation made from another process can go unseen.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from uuid import UUID

from ledger.domain.qualification import Qualification
from ledger.domain.registry import DeviceState
from ledger.domain.users import UserState
from ledger.services.token_store import TokenRecord
from ledger.store import notices
from ledger.store.database import Database

DEFAULT_TTL_SECONDS = 10.0
SQLITE_TTL_SECONDS = 1.0
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Holder:
    """What one token resolved to: its record and its holder's folded state."""

    record: TokenRecord
    stream: UUID  # the holder's stream (a user's or a device's)
    device: DeviceState | None = None
    user: UserState | None = None
    qualification: Qualification | None = None


class PrincipalCache:
    def __init__(self, database: Database, *, ttl: float | None = None, max_entries: int = MAX_ENTRIES) -> None:
        self.database = database
        self.ttl = ttl if ttl is not None else (
            DEFAULT_TTL_SECONDS if database.kind == "postgres" else SQLITE_TTL_SECONDS)
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, Holder]] = OrderedDict()
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._generation = 0  # moves on every notice: a lookup that straddles one is not kept
        self._listener: notices.Listener | None = None
        self._unsubscribe = notices.subscribe(database.url, self._heard)

    # -- use ---------------------------------------------------------------------------------

    def get(self, token_digest: str) -> Holder | None:
        """The cached holder of this token, if any is fresh and changes are being heard."""
        if not self._trusted():
            return None
        with self._lock:
            entry = self._entries.get(token_digest)
            if entry is None:
                return None
            if time.monotonic() - entry[0] > self.ttl:
                del self._entries[token_digest]
                return None
            self._entries.move_to_end(token_digest)
            return entry[1]

    def generation(self) -> int:
        """Take before looking a token up; hand to ``put`` with what was found."""
        with self._lock:
            return self._generation

    def put(self, token_digest: str, holder: Holder, generation: int) -> None:
        """Keep ``holder`` unless a notice arrived since ``generation`` was taken (then what was
        read may already be out of date)."""
        if not self._trusted():
            return
        with self._lock:
            if generation != self._generation:
                return
            self._entries[token_digest] = (time.monotonic(), holder)
            self._entries.move_to_end(token_digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def close(self) -> None:
        self._unsubscribe()
        if self._listener is not None:
            self._listener.stop()
        with self._lock:
            self._entries.clear()

    # -- changes -----------------------------------------------------------------------------

    def _trusted(self) -> bool:
        """SQLite: one process, every change is heard in it. PostgreSQL: only while this
        process's listener is connected (started on first use, so the CLI never starts one)."""
        if self.database.kind != "postgres":
            return True
        if self._listener is None:
            with self._start_lock:
                if self._listener is None:
                    self._listener = notices.Listener.for_database(self.database).start()
        return self._listener.connected.is_set()

    def _heard(self, notice: str) -> None:
        kind, _, value = notice.partition(":")
        with self._lock:
            self._generation += 1
            if notice == notices.RESET:
                self._entries.clear()
                return
            doomed = [key for key, (_, holder) in self._entries.items() if _concerns(kind, value, key, holder)]
            for key in doomed:
                del self._entries[key]


def _concerns(kind: str, value: str, token_digest: str, holder: Holder) -> bool:
    if kind == "s":
        return holder.stream.hex == value
    if kind == "t":
        return token_digest == value
    if kind == "p":
        return holder.record.principal == value
    return True  # a notice of a kind this process does not know: drop everything it might concern
