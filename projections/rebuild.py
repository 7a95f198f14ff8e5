"""``ledger projections rebuild``: the read models rebuilt from the log while the service keeps serving.

The live tables are never emptied. The read models are replayed into a scratch set of fresh tables
(:mod:`projections.scratch`), which is then swapped in at once; the service's follower carries on
from the scratch set's position, so events appended meanwhile are applied exactly once.

On PostgreSQL the replay runs in ``processes`` processes (one per core by default), each applying
the whole log to a share of the read models (balanced by :data:`REPLAY_COST`; each read model is
self-contained, it never reads another's tables while applying). Share 0 is tracked as the service's group
(``read_models``) and keeps the stream directory the swap moves in; the others keep their own.
SQLite (the embedded default) replays in this process: one writer per file.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from queue import Empty

from sqlalchemy import Engine

from ledger.heap import keep_what_lives
from ledger.store.database import Database
from ledger.store.rawstore import RawLog, connect, log_position

from .read_models import GROUP_NAME, ProjectionGroup, read_models
from .runner import ProjectionRunner
from .scratch import ScratchSet, scratch_set

REPLAY_COST = {"audit_trail": 378, "custody": 146, "review_queue": 93, "cases": 70, "read_scope": 49,
               "conditions": 48, "exceptions": 44, "genealogy": 35, "orchestration": 28, "unit_identifiers": 13}
"""What each read model adds to a share's replay: hundredths of a second over 100k generated events,
measured alone (median of 3), beyond the ~3 s every share spends reading and converting the log
(docs/PERFORMANCE.md). A read model not named counts as the dearest."""


@dataclass(frozen=True)
class Rebuilt:
    events: int  # the events in the rebuilt read models (the log up to ``position``)
    position: int
    processes: int


def share_names(processes: int) -> list[list[str]]:
    """The read models' names split into ``processes`` shares (at most one per read model) of about
    equal replay time: the dearest first, each to the share with the least so far."""
    names = [model.name for model in read_models()]
    count = max(1, min(processes, len(names)))
    shares: list[list[str]] = [[] for _ in range(count)]
    totals = [0] * count
    most = max(REPLAY_COST.values())
    for name in sorted(names, key=lambda n: -REPLAY_COST.get(n, most)):
        lightest = totals.index(min(totals))
        shares[lightest].append(name)
        totals[lightest] += REPLAY_COST.get(name, most)
    return [sorted(share, key=names.index) for share in shares]  # each in the service's order


def share_group(index: int, names: Sequence[str], *, from_empty: bool = False) -> ProjectionGroup:
    """Share ``index`` as one group; ``from_empty``: it alone fills tables that start empty, so its
    read models and stream directory may answer their own lookups from memory (``sole_writer``)."""
    members = [model for model in read_models() if model.name in names]
    group = ProjectionGroup(members, GROUP_NAME if index == 0 else f"{GROUP_NAME}_share{index}")
    if from_empty:
        group.sole_writer()
    return group


def owners() -> list[str]:
    """Every owner name a read model's stream-directory rows may carry (grouped, by share or alone)."""
    return [GROUP_NAME, *(f"{GROUP_NAME}_share{i}" for i in range(1, 8)),
            *(model.name for model in read_models())]


def log_head(database: Database) -> int:
    with connect(database) as conn:
        column = log_position(database.kind)
        found = conn.execute(f"SELECT MAX({column}) FROM {database.events_table}").fetchone()  # noqa: S608
        return int(found[0] or 0)


def replay_share(url: str, index: int, names: Sequence[str], stop: int, batch_size: int,
                 progress: Callable[[int], None] | None = None, engine: Engine | None = None,
                 from_empty: bool = False) -> int:
    """Apply the log up to ``stop`` to one share of the read models in the scratch set."""
    database = Database.from_url(url)
    own = engine is None
    engine = engine or scratch_set(database, []).engine()
    try:
        with connect(database) as log:
            group = share_group(index, names, from_empty=from_empty)
            runner = ProjectionRunner(RawLog(database, log, stop), engine, [group], batch_size=batch_size)
            return runner.catch_up(progress)
    finally:
        if own:
            engine.dispose()


def _child(url: str, index: int, names: list[str], stop: int, batch_size: int, queue) -> None:  # noqa: ANN001
    """One share in a process of its own, which ends with it: what the share keeps in memory
    grows batch after batch and lives as long as the process, so after each batch it is left
    out of later collections (``keep_what_lives``)."""
    def batch_done(n: int) -> None:
        keep_what_lives()
        queue.put((index, n))

    replay_share(url, index, names, stop, batch_size, batch_done, from_empty=True)


def rebuild_read_models(database: Database, *, processes: int | None = None, batch_size: int = 1000,
                        on_events: Callable[[int], None] | None = None) -> Rebuilt:
    """Rebuild every read model into fresh tables and swap them in; ``on_events(n)``: progress."""
    if database.kind == "sqlite":
        processes = 1
    processes = max(1, processes or os.cpu_count() or 1)
    shares = share_names(processes)
    tables = [table for model in read_models() for table in model.tables]
    scratch = scratch_set(database, tables)
    with scratch.exclusive():
        return _rebuild(database, scratch, shares, batch_size, on_events)


def _rebuild(database: Database, scratch: ScratchSet, shares: list[list[str]], batch_size: int,
             on_events: Callable[[int], None] | None) -> Rebuilt:
    scratch.create()
    engine = scratch.engine()
    try:
        stop = log_head(database)
        _replay(database, shares, stop, batch_size, engine, on_events)
        scratch.index()

        def finish() -> int:  # under the live follower's lock: the events appended meanwhile
            head = log_head(database)
            for index, names in enumerate(shares):
                replay_share(database.url, index, names, head, batch_size, engine=engine)
            return head

        engine.dispose()
        position = scratch.swap(GROUP_NAME, owners(), finish)
    finally:
        engine.dispose()
        scratch.discard()
    if on_events is not None and position > stop:  # not under the lock: the callback may use the ledger
        on_events(position - stop)
    return Rebuilt(_count(database, position), position, len(shares))


def _replay(database: Database, shares: list[list[str]], stop: int, batch_size: int, engine: Engine,
            on_events: Callable[[int], None] | None) -> None:
    if len(shares) == 1:
        replay_share(database.url, 0, shares[0], stop, batch_size, on_events, engine, from_empty=True)
        return
    context = multiprocessing.get_context("spawn")  # no inherited engines, pools or threads
    queue = context.Queue()
    children = [context.Process(target=_child, args=(database.url, i, names, stop, batch_size, queue),
                                name=f"rebuild-share-{i}", daemon=True) for i, names in enumerate(shares)]
    for child in children:
        child.start()
    done = [0] * len(shares)
    reported = 0
    try:
        while any(child.is_alive() for child in children) or not queue.empty():
            try:
                index, n = queue.get(timeout=0.2)
            except Empty:
                continue
            done[index] += n
            if on_events is not None and min(done) > reported:  # progress of the slowest share
                on_events(min(done) - reported)
                reported = min(done)
    finally:
        for child in children:
            child.join()
    failed = [child.name for child in children if child.exitcode != 0]
    if failed:
        raise RuntimeError(f"rebuild failed in {', '.join(failed)} (see its traceback above)")


def _count(database: Database, position: int) -> int:
    with connect(database) as conn:
        column, mark = log_position(database.kind), "?" if database.kind == "sqlite" else "%s"
        return int(conn.execute(f"SELECT COUNT(*) FROM {database.events_table} WHERE {column} <= {mark}",  # noqa: S608
                                (position,)).fetchone()[0])
