"""Group commit: appends that arrive while a commit is in flight are stored together.

PostgreSQL writers are serialised (one advisory lock, so commit order is log order), so with
one transaction per request the ledger commits one request at a time, each paying a round trip
and a WAL flush while every other writer waits. Here the first caller to arrive leads: it takes
every append queued so far and stores them in ONE transaction; callers arriving meanwhile queue
up, and when the commit ends the first of them leads the next group. Under light load a group
is a single append, so nothing changes; under load, many appends share a commit.

Contract: each caller gets exactly what a commit of its own append alone would have given:
its recordings, or its exception. If a group fails (an ``IntegrityError``: a stream moved, a
claim was taken, or a retried commit had in fact committed; or anything one member's data
could cause), every member is committed again on its own, so the error reaches only the
members it belongs to. An ``outage`` (the database is unavailable) is raised to every member
of the group at once, as each would have met it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

E = TypeVar("E")  # an event
C = TypeVar("C")  # a row stored with an append (an idempotency or device-nonce claim)
Commit = Callable[[list[Any], list[Any]], Sequence[Any]]  # (events, claims) -> one recording per event


@dataclass(eq=False)
class _Append(Generic[E, C]):
    events: list[E]
    claims: Sequence[C]
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    done: bool = False
    recordings: list[Any] = field(default_factory=list)
    error: BaseException | None = None


class GroupCommit(Generic[E, C]):
    def __init__(self, commit: Commit, *, outage: tuple[type[BaseException], ...] = (),
                 max_events: int = 2000) -> None:
        self._commit = commit
        self._outage = outage
        self._max_events = max_events
        self._lock = threading.Lock()
        self._queue: deque[_Append[E, C]] = deque()
        self._busy = False

    def submit(self, events: list[E], claims: Sequence[C]) -> list[Any]:
        """Store ``events`` (with ``claims``) durably; returns their recordings, in order."""
        mine: _Append[E, C] = _Append(events, claims)
        with self._lock:
            self._queue.append(mine)
            if not self._busy:
                self._busy = mine.lead = True
        if not mine.lead:
            mine.wake.wait()  # either our group was committed, or it is our turn to lead
        if not mine.done:
            self._lead()
        if mine.error is not None:
            raise mine.error
        return mine.recordings

    def _lead(self) -> None:
        with self._lock:
            group, size = [], 0
            while self._queue and (not group or size + len(self._queue[0].events) <= self._max_events):
                member = self._queue.popleft()
                group.append(member)
                size += len(member.events)
        try:
            self._store(group)
        finally:
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.wake.set()
                else:
                    self._busy = False
            for member in group:
                member.done = True
                member.wake.set()

    def _store(self, group: list[_Append[E, C]]) -> None:
        try:
            recordings = self._commit([e for m in group for e in m.events],
                                      [c for m in group for c in m.claims])
        except self._outage as exc:
            for member in group:
                member.error = exc
            return
        except BaseException as exc:  # noqa: BLE001 - handed to its member, who raises it
            if len(group) == 1:
                group[0].error = exc
                return
            for member in group:  # find whose it is: each alone, as if there had been no group
                self._store([member])
            return
        offset = 0
        for member in group:
            member.recordings = list(recordings[offset:offset + len(member.events)])
            offset += len(member.events)
