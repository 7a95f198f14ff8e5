"""The ledger's own operation, recorded (21 CFR 11.10(e), EU GMP Annex 11 §9): the settings a
service starts with, sealing key rotations, and sign-in failures for ids that name no user.

All three are written by the ledger itself (actor ``system``, or the operator who rotated the
key) on ledger streams (``ledger.streams.ledger_stream``), never through the API.

Unknown-id failures are counted in this process and written as one ``UnknownSignInFailures``
per window (``window``, tumbling from the first failure): at the first failure after the window
ended, or when the process closes (``flush_unknown_sign_ins``). A process killed mid-window loses
that window's count (the per-failure log line remains); a flood costs one event per window.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..domain.base import new_event
from ..domain.events_ledger import SealingKeyRotated, SettingsRecorded, UnknownSignInFailures
from ..envelope import canonical
from ..keys.sealing import PublishedKey
from ..streams import ledger_stream
from .executor import Context, Executor, Outcome, Reads, Step

SYSTEM = Context(actor="system")
SETTINGS, SEALING_KEYS, SIGN_IN = ledger_stream("settings"), ledger_stream("sealing-keys"), ledger_stream("sign-in")
MAX_CLIENTS = 50  # per window; further client prefixes are counted under "other"


def client_prefix(client: str | None) -> str:
    """The client's network, not its address: IPv4 /24, IPv6 /48, else ``other``."""
    try:
        address = ipaddress.ip_address(client or "")
    except ValueError:
        return "other"
    bits = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{bits}", strict=False))


class _Unchanged(Exception):
    pass


@dataclass
class _Window:
    start: datetime
    count: int = 0
    digests: set[str] = field(default_factory=set)
    clients: Counter[str] = field(default_factory=Counter)


class OperationsService:
    def __init__(self, executor: Executor, *, window: timedelta = timedelta(minutes=5)) -> None:
        self.executor = executor
        self.window = window
        self._lock = threading.Lock()
        self._current: _Window | None = None

    # ------------------------------------------------------------ settings

    def record_settings(self, values: Mapping[str, Any]) -> Outcome | None:
        """Record ``values`` (non-secret settings) unless the last ``SettingsRecorded`` holds the same."""
        digest = hashlib.sha256(canonical(dict(values))).hexdigest()

        def decide(reads: Reads, _now: datetime, _actor: str):
            recorded = reads.envelopes(SETTINGS)
            if recorded and recorded[-1]["data"]["digest"] == digest:
                raise _Unchanged  # also when a concurrent worker recorded them first
            return [new_event(SETTINGS, SettingsRecorded, digest=digest, values=dict(values))]

        try:
            return self.executor.run(Step(SYSTEM, decide))
        except _Unchanged:
            return None

    # -------------------------------------------------------- sealing keys

    def record_key_rotation(self, ctx: Context, retired: PublishedKey, new: PublishedKey) -> Outcome:
        return self.executor.run(Step(ctx, lambda _reads, _now, _actor: [new_event(
            SEALING_KEYS, SealingKeyRotated, retired_key_id=retired.key_id, retired_valid_from=retired.valid_from,
            retired_valid_until=retired.valid_until, new_key_id=new.key_id, new_valid_from=new.valid_from)]))

    # ------------------------------------------------- unknown-id sign-ins

    def unknown_sign_in_failed(self, digest: str, client: str | None) -> None:
        """Count one failed sign-in for an id without a user (``digest``: its keyed digest)."""
        now = self.executor.clock()
        with self._lock:
            ended = self._take_if_ended(now)
            if self._current is None:
                self._current = _Window(now)
            self._current.count += 1
            self._current.digests.add(digest)
            prefix = client_prefix(client)
            clients = self._current.clients
            clients["other" if prefix not in clients and len(clients) >= MAX_CLIENTS else prefix] += 1
        if ended is not None:
            self._write(*ended)

    def flush_unknown_sign_ins(self, *, force: bool = False) -> Outcome | None:
        """Write the window's count if it has ended (``force``: now, e.g. when the process closes)."""
        now = self.executor.clock()
        with self._lock:
            ended = self._take_if_ended(now, force=force)
        return None if ended is None else self._write(*ended)

    def _take_if_ended(self, now: datetime, *, force: bool = False) -> tuple[_Window, datetime] | None:
        window = self._current
        if window is None or not (force or now >= window.start + self.window):
            return None
        self._current = None
        return window, min(now, window.start + self.window)

    def _write(self, window: _Window, end: datetime) -> Outcome:
        return self.executor.run(Step(SYSTEM, lambda _reads, _now, _actor: [new_event(
            SIGN_IN, UnknownSignInFailures, window_start=window.start, window_end=end, count=window.count,
            distinct_ids=len(window.digests), by_client=dict(window.clients))]))
