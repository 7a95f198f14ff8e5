"""B7: how long until a newly written event is inside a signed checkpoint, at ~1,000 events/s.

A ``ledger serve`` process follows the log (read models and Merkle log, as in production); this
process appends generated journeys through the Ledger, 50 events every 50 ms, noting when each
batch was acknowledged and its last position; a poller notes when the newest checkpoint first
covers each position. Lag of a batch = first covering checkpoint seen - acknowledgement."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from ledger.services.journeys import DEMO_PASSWORD
from projections.db import make_engine

from .generate import Replayer, Template, capture_template, signers
from .server import Server


def checkpoint_lag(bench_ledger, scratch, *, seconds: float, rate: int = 1000, batch: int = 50) -> dict:
    container = bench_ledger.container()
    engine = make_engine(bench_ledger.database)
    acks: list[tuple[float, int]] = []
    covered: list[tuple[float, int]] = []
    stop = threading.Event()

    def poll() -> None:
        sql = text("SELECT l.position FROM checkpoints c JOIN merkle_leaves l ON l.leaf_index = c.tree_size - 1 "
                   "ORDER BY c.tree_size DESC LIMIT 1")
        with engine.connect() as conn:
            while not stop.is_set():
                position = conn.execute(sql).scalar() or 0
                conn.rollback()
                covered.append((time.perf_counter(), position))
                time.sleep(0.02)

    try:
        # captured before the server starts: its followers append events of their own (alerts,
        # re-plans) that a journey read back from the log must not take in
        identity = container.services.identity
        template: Template = capture_template(container.services)
        intents = {(m, u): identity.signoff(user_id=u, password=DEMO_PASSWORD, meaning=m).intent
                   for m, u in signers(template)}
        replay = Replayer(template, intents, seed=99)
        # started only now: ``Server`` launches ``ledger serve`` when constructed
        with Server(bench_ledger.environ(), scratch / "b7-server.log", workers=1):
            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            _wait_until_covered(covered, container.ledger.last_position())  # steady state, not a backlog
            pending: list = []
            began = time.perf_counter()
            tick = began
            while time.perf_counter() - began < seconds:
                while len(pending) < batch:
                    pending.extend(replay.case())
                result = container.ledger.append(pending[:batch])
                pending = pending[batch:]
                acks.append((time.perf_counter(), max(r.position for r in result.receipts)))
                tick += batch / rate
                time.sleep(max(0.0, tick - time.perf_counter()))
            written = sum(1 for _ in acks) * batch
            achieved = written / (time.perf_counter() - began)
            deadline = time.perf_counter() + 30
            while time.perf_counter() < deadline and (not covered or covered[-1][1] < acks[-1][1]):
                time.sleep(0.1)
            stop.set()
            poller.join()
    finally:
        container.close()
        engine.dispose()
    lags = []
    index = 0
    for acked, position in acks:
        while index < len(covered) and (covered[index][1] < position or covered[index][0] < acked):
            index += 1
        lags.append(covered[index][0] - acked if index < len(covered) else float("inf"))
    lags.sort()
    return {"events": written, "events_per_s": round(achieved, 1), "batches": len(acks),
            "p50_s": round(lags[len(lags) // 2], 3), "p99_s": round(lags[int(len(lags) * 0.99)], 3),
            "max_s": round(lags[-1], 3)}


def _wait_until_covered(covered: list[tuple[float, int]], position: int, timeout: float = 600) -> None:
    """Block until a signed checkpoint covers ``position`` (earlier benchmarks may have left a
    backlog of events for the server's followers): B7 measures the lag at a steady 1,000 events/s."""
    deadline = time.perf_counter() + timeout
    while not covered or covered[-1][1] < position:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the follower did not reach position {position} in {timeout} s")
        time.sleep(0.1)
