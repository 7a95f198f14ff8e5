"""Each audit-trail row that is shown, checked against the sealed event at its log position.

The audit trail is a read model: a table anyone with write rights on the database can edit
without touching a sealed event. A shown row is ``verified`` only when:

* the log holds an event at the row's ``position``, with the row's ``event_id``;
* that envelope re-hashes (RFC 8785 JCS, SHA-256) to the hash stored with it (shown on its stored
  bytes where they prove it: :func:`~ledger.store.rawstore.hashed_record`), which equals the
  row's ``event_hash``, and the ledger's seal over it verifies with the published key valid when
  it was recorded;
* the row equals what the audit-trail projector itself makes of that event (every column but
  ``corrected_by``, which later corrections fill);
* on a page filtered by COI or unit, the event is one that concerns that COI or unit.

Otherwise it carries ``verified: False`` and the ``problem``. Cost: one query for the events at
the page's positions, one hash and one Ed25519 check per row (remembered for the exact key, hash
and seal), and the projector's few indexed reads (stream directory, a corrected event's original
detail; what it derives is remembered by position, proven hash and directory entry). What a page
cannot see (a row or link deleted, ``corrected_by``, the stream directory itself) ``ledger verify
--read-models`` checks.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, text

from ledger.domain.catalogue import typed
from ledger.envelope import envelope_hash
from ledger.errors import LedgerError
from ledger.keys.sealing import KeyRing, verify_ed25519
from ledger.store.database import POSTGRES_EVENTS_TABLE, SQLITE_EVENTS_TABLE
from ledger.store.rawstore import log_position, proven_event
from ledger.store.records import SealedEvent
from ledger.timefmt import parse_utc

from .audit import AuditTrailProjection, listed_under
from .audit_query import AuditFilters, shape
from .common import DirectoryEntry, StreamDirectory
from .read_models import GROUP_NAME

CHUNK = 500
UNCHECKED = ("corrected_by",)  # filled by later events: checked by ``ledger verify --read-models``


class _SharedDirectory(StreamDirectory):
    """The group's stream directory, its cache shared by every page this process checks (a
    stream's COI and role are immutable facts of the log, so an entry never goes stale; unknown
    streams are not kept): a page's rows then cost no directory queries once their streams were
    seen. Thread-safe: pages are checked on the server's request threads."""

    def __init__(self, owner: str, cache_size: int = 50_000) -> None:
        super().__init__(owner, cache_size)
        self._lock = threading.Lock()

    def _recall(self, stream: str) -> tuple[str | None, str, str | None] | None:
        with self._lock:  # the lock is never held across the directory query
            return super()._recall(stream)

    def _remember(self, stream: str, value: tuple[str | None, str, str | None]) -> None:
        with self._lock:
            super()._remember(stream, value)

    def add(self, conn: Connection, stream: str, coi: str | None, role: str, case_id: str | None = None) -> None:
        raise TypeError("the shared directory only reads")


@functools.lru_cache(maxsize=20_000)
def _seal_verifies(public_key: bytes, message: bytes, seal: str) -> bool:
    """:func:`verify_ed25519`, remembered for the exact bytes it was given (a pure function of them:
    an altered hash, seal or key is another entry, checked afresh). Pages are read again and again,
    and the Ed25519 check was a fifth of the audit page's time (B4)."""
    return verify_ed25519(public_key, message, seal)


class _DerivedByFacts:
    """What the projector makes of an event (its row, and the COIs and units it is listed under),
    remembered by the facts it is a function of: the log position, the envelope's proven hash
    (SHA-256 names its exact bytes) and the stream directory's answer for its stream. Pages are
    read again and again; re-deriving each row (typing its data, its text) was a quarter of the
    audit page's time (B4). A stored row is still compared with it on every page. An entry is ~3.3 kB:
    at most ~33 MB a process."""

    def __init__(self, size: int = 10_000) -> None:
        self._memo: OrderedDict[tuple, tuple[dict[str, Any], set[str], set[str]]] = OrderedDict()
        self._size, self._lock = size, threading.Lock()

    def __call__(self, key: tuple, derive: Callable[[], tuple[dict[str, Any], set[str], set[str]]]
                 ) -> tuple[dict[str, Any], set[str], set[str]]:
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        derived = derive()  # outside the lock: it may query the directory
        with self._lock:
            self._memo[key] = derived
            if len(self._memo) > self._size:
                self._memo.popitem(last=False)
        return derived


_derived = _DerivedByFacts()
_DIRECTORIES: dict[str, _SharedDirectory] = {}  # by database: the same stream id names other things elsewhere
_DIRECTORIES_LOCK = threading.Lock()


def _directory(conn: Connection) -> _SharedDirectory:
    key = conn.engine.url.render_as_string(hide_password=True)
    with _DIRECTORIES_LOCK:
        if key not in _DIRECTORIES:
            _DIRECTORIES[key] = _SharedDirectory(GROUP_NAME)
        return _DIRECTORIES[key]


def events_at(conn: Connection, positions: Iterable[int]) -> dict[int, tuple[SealedEvent | None, bool]]:
    """The sealed event at each position of the global log (None: a row that is no sealed record),
    and whether its stored bytes already prove it hashes to its stored hash
    (:func:`~ledger.store.rawstore.hashed_record`: no need to re-serialise it)."""
    dialect = conn.dialect.name
    table = SQLITE_EVENTS_TABLE if dialect == "sqlite" else POSTGRES_EVENTS_TABLE
    pos = log_position(dialect)
    query = text(f"SELECT {pos}, state FROM {table} WHERE {pos} IN :p").bindparams(  # noqa: S608
        bindparam("p", expanding=True))
    wanted, found = sorted(set(positions)), {}
    for start in range(0, len(wanted), CHUNK):
        for position, state in conn.execute(query, {"p": wanted[start:start + CHUNK]}):
            found[int(position)] = proven_event(state)
    return found


def check_rows(conn: Connection, rows: Sequence[dict[str, Any]], keyring: KeyRing | None,
               filters: AuditFilters | Mapping[str, Any] | None = None) -> None:
    """Set ``verified`` and ``problem`` on each row (rows as :func:`audit_trail_page` answers them)."""
    selected = AuditFilters.of(filters)
    events = events_at(conn, (r["position"] for r in rows))
    projector = AuditTrailProjection()
    projector.share(_directory(conn))  # the directory the service's group keeps
    for row in rows:
        problem = _problem(conn, row, *events.get(row["position"], (None, False)), keyring, projector, selected)
        row["verified"], row["problem"] = problem is None, problem


def _problem(conn: Connection, row: Mapping[str, Any], event: SealedEvent | None, hashed: bool,
             keyring: KeyRing | None, projector: AuditTrailProjection, filters: AuditFilters) -> str | None:
    if event is None:
        return f"no sealed event at log position {row['position']}"
    env = event.envelope
    if env.get("event_id") != row["event_id"]:
        return f"the log holds another event at position {row['position']}"
    try:
        recomputed = event.hash if hashed else envelope_hash(env)
        recorded_at = parse_utc(env["recorded_at"])
    except (LedgerError, KeyError, TypeError) as exc:
        return f"the sealed event cannot be hashed: {exc}"
    if recomputed != event.hash:
        return "the sealed event does not hash to its stored hash (altered)"
    if row.get("event_hash") != event.hash:
        return "the row's event hash is not the hash in the log"
    if keyring is None:
        return "no published key ring to check the seal with"
    reason = keyring.check_seal(event.key_id, event.hash, event.seal, recorded_at, verify=_seal_verifies)
    if reason is not None:
        return reason
    own = projector.directory.lookup(conn, env["stream"])
    # the envelope hashes to event.hash (checked above): the hash names the data derived from
    expected, cois, units = _derived((row["position"], event.hash, own),
                                     lambda: _derive(conn, projector, row["position"], env, event.hash, own))
    changed = [c for c, v in expected.items() if c not in UNCHECKED and row.get(c) != v]
    if changed:
        return "the row differs from its sealed event: " + ", ".join(changed)
    if (filters.coi is not None and filters.coi not in cois) or (
            filters.unit_id is not None and str(filters.unit_id) not in units):
        return "the sealed event does not concern the case or unit this page lists"
    return None


def _derive(conn: Connection, projector: AuditTrailProjection, position: int, env: Mapping[str, Any],
            event_hash: str, own: DirectoryEntry | None) -> tuple[dict[str, Any], set[str], set[str]]:
    try:
        data = typed(env["type"], env["data"])
    except ValueError:
        data = None
    expected = shape({**projector.row(conn, position, env, data, event_hash, own), "corrected_by": None})
    return (expected, *listed_under(env, own))
