"""``python -m bench.alerts [--journeys N] [--database sqlite|postgres] [--record]``: A1-A2, the
alerts (docs/ALERTS.md), each the median of 3 with its spread, against a baseline measured in the
same run, on a scratch ledger filled with N demo journeys (autologous, every step):

* A1: the alert follower replaying the whole log from zero (events/s), against the read models
  (B5's group) replaying the same log: the follower runs beside them and must not lag behind them;
* A2: alert timers fired through the queue by one worker (timers/s: claim, append, mark done),
  against the same number of alerts raised by direct calls of the alert port.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
import uuid
from datetime import timedelta

from api.authority import reads_every_case
from projections.alert_timers import Timer, schedule
from projections.alert_worker import AlertWorker
from projections.alerts import AlertFollower
from projections.common import micros
from projections.db import make_engine
from projections.read_models import all_projections
from projections.runner import ProjectionRunner

from .__main__ import RESULTS, machine, table
from .env import BenchLedger
from .suite import row

REPEAT = 3
TIMERS = 300


def _median_spread(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), round(max(values) - min(values), 1)


def a1(ledger: BenchLedger) -> dict:
    container = ledger.container()
    engine = make_engine(ledger.database)
    try:
        rates, raw = [], []
        for _ in range(REPEAT):
            models = ProjectionRunner(container.ledger, engine, all_projections(), batch_size=1000)
            started = time.perf_counter()
            raw.append(models.rebuild() / (time.perf_counter() - started))
            runner = ProjectionRunner(container.ledger, engine, [AlertFollower(reads_every_case)], batch_size=1000)
            started = time.perf_counter()
            applied = runner.rebuild()
            rates.append(applied / (time.perf_counter() - started))
    finally:
        engine.dispose()
        container.close()
    value, spread = _median_spread(rates)
    base, base_spread = _median_spread(raw)
    return row("A1", "alert follower replay from zero (events/s)", value, base, ">= 1", value / base >= 1,
               events=applied, runs=[round(r, 1) for r in rates], spread=spread, baseline_spread=base_spread,
               baseline_what="the read models (one group) replaying the same log")


def a2(ledger: BenchLedger) -> dict:
    container = ledger.container()
    port = container.alerts.service
    clock = container.services.operations.executor.clock
    try:
        queued, direct = [], []
        for _ in range(REPEAT):
            tag = uuid.uuid4().hex[:8]
            started = time.perf_counter()
            for i in range(TIMERS):
                port.raise_alert("slot_at_risk", f"DIRECT-{tag}-{i}", [], "info", "bench")
            direct.append(TIMERS / (time.perf_counter() - started))

            due = micros(clock() - timedelta(seconds=1))
            with container.alerts.engine.begin() as conn:
                for i in range(TIMERS):
                    subject = f"QUEUED-{tag}-{i}"
                    schedule(conn, Timer("raise", f"slot_at_risk:{subject}", "slot_at_risk", subject, "bench", due,
                                         message="bench"), position=0)
            worker = AlertWorker(container.alerts.engine, port, clock, worker=f"bench-{tag}")
            started, fired = time.perf_counter(), 0
            while n := worker.run_once():
                fired += n
            queued.append(fired / (time.perf_counter() - started))
    finally:
        container.close()
    value, spread = _median_spread(queued)
    base, base_spread = _median_spread(direct)
    return row("A2", f"alert timers fired by one worker ({TIMERS}; timers/s)", value, base, ">= 0.5",
               value / base >= 0.5, runs=[round(r, 1) for r in queued], spread=spread,
               baseline_spread=base_spread, baseline_what="direct raise_alert calls")


def fill(ledger: BenchLedger, journeys: int) -> int:
    from ledger.services.journeys import run_autologous_journey, seed_identities

    container = ledger.container()
    try:
        seed_identities(container.services)
        for i in range(journeys):
            run_autologous_journey(container.services, mrn=f"MRN-BA-{i:05d}", wrong_mrn=f"MRN-BW-{i:05d}")
        return container.ledger.last_position()
    finally:
        container.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.alerts", description=__doc__)
    parser.add_argument("--journeys", type=int, default=20)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--record", action="store_true", help="also write results/<date>-alerts-<db>.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    ledger = BenchLedger.create(args.database, "bench_alerts")
    try:
        events = fill(ledger, args.journeys)
        print(f"[bench] {events} events from {args.journeys} journeys", file=sys.stderr, flush=True)
        rows = [a1(ledger), a2(ledger)]
    finally:
        ledger.drop()
    result = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "size": f"{args.journeys} journeys",
              "database": args.database, "command": "python -m bench.alerts " + " ".join(argv or sys.argv[1:]),
              "machine": machine(), "generate": {"events": events}, "seconds": round(time.perf_counter() - started, 1),
              "results": rows}
    print(table(rows))
    if args.record:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{dt.date.today().isoformat()}-alerts-{args.database}.json").write_text(
            json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
