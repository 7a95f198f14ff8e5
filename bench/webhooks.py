"""B9: webhook delivery lag, from an event's commit to its receipt, at ~500 events/s.

``python -m bench.webhooks [--database postgres|sqlite] [--seconds 10] [--rate 500] [--runs 3] [--record]``

Per run: a scratch ledger, an admin's subscription to every event type, a real receiver on a
loopback port (in a process of its own, as a subscriber's system would be), and a ``ledger
serve`` process that follows the log, beside a ``ledger deliver`` process (as in production).
This process appends generated journeys through the Ledger in batches every 50 ms, noting when
each batch was acknowledged (committed) and its positions; the receiver notes when each
position first arrives. Lag = first arrival - acknowledgement. Nothing lost: every acknowledged
position arrived. The same-run baseline is the read models' lag (the outbox follows behind
them), polled every 20 ms: the ratio says what webhooks add on top of it.
Reported: p50/p95/p99 of each run, the median of the runs and their spread (max - min).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import text

from ledger.domain.catalogue import DOMAIN_EVENTS
from ledger.services.executor import Context
from ledger.services.journeys import DEMO_PASSWORD
from ledger.services.subscriptions import Owner
from ledger.timefmt import parse_utc
from ledger.webhooks.matching import NEVER_SENT
from projections.db import make_engine

from .env import BenchLedger
from .generate import Replayer, capture_template, signers
from .receiver import ReceiverProcess
from .server import Server

RESULTS = Path(__file__).parent / "results"


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def one_run(kind: str, seconds: float, rate: int, *, separate: bool, batch: int = 25) -> dict:
    bench_ledger = BenchLedger.create(kind, "bench_b9")
    receiver = ReceiverProcess(bench_ledger.workdir / "b9-received.jsonl")
    container = bench_ledger.container(webhook_allow_private=True, run_webhooks=False)
    engine = make_engine(bench_ledger.database)
    acks: list[tuple[float, list[int]]] = []
    read_models: list[tuple[float, int]] = []
    stop = threading.Event()
    deliverer = None

    def poll() -> None:
        with engine.connect() as conn:
            while not stop.is_set():
                position = conn.execute(text(
                    "SELECT position FROM projection_tracking WHERE name = 'read_models'")).scalar() or 0
                conn.rollback()
                read_models.append((time.time(), position))
                time.sleep(0.02)

    try:
        identity = container.services.identity
        template = capture_template(container.services)
        intents = {(m, u): identity.signoff(user_id=u, password=DEMO_PASSWORD, meaning=m).intent
                   for m, u in signers(template)}
        replay = Replayer(template, intents, seed=9)
        types = sorted(set(DOMAIN_EVENTS) - NEVER_SENT)
        container.webhooks.subscriptions.create(Context(actor="admin"), Owner("admin", (), True, True),
                                                url=receiver.url, event_types=types, sites=[], cois=[],
                                                min_severity=None)
        environ = bench_ledger.environ(LEDGER_WEBHOOK_ALLOW_PRIVATE="true",
                                       LEDGER_RUN_WEBHOOKS="false" if separate else "true")
        if separate:  # `ledger deliver` as its own process: its own interpreter lock, beside the server's
            log = (bench_ledger.workdir / "b9-deliver.log").open("w")
            deliverer = subprocess.Popen([sys.executable, "-m", "ledger_cli.main", "deliver"], env=environ,  # noqa: S603
                                         stdout=log, stderr=subprocess.STDOUT)
        with Server(environ, bench_ledger.workdir / "b9-server.log", workers=1):
            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            # steady state: the journey the template was captured from is delivered first
            warm = container.ledger.last_position()
            while not any(position >= warm for position, _, _ in receiver.arrivals()):
                time.sleep(0.05)
            skip = len(receiver.arrivals())
            pending: list = []
            began = tick = time.perf_counter()
            while time.perf_counter() - began < seconds:
                while len(pending) < batch:
                    pending.extend(replay.case())
                result = container.ledger.append(pending[:batch])
                acks.append((time.time(), [r.position for r in result.receipts]))
                pending = pending[batch:]
                tick += batch / rate
                time.sleep(max(0.0, tick - time.perf_counter()))
            achieved = sum(len(p) for _, p in acks) / (time.perf_counter() - began)
            wanted = {p for _, ps in acks for p in ps}
            deadline = time.perf_counter() + 60
            while time.perf_counter() < deadline:
                if wanted <= {position for position, _, _ in receiver.arrivals()}:
                    break
                time.sleep(0.1)
            arrivals = receiver.arrivals()[skip:]
            stop.set()
            poller.join()
            with engine.connect() as conn:  # where the lag is: commit -> queued, queued -> delivered
                stages = [(due / 1e6 - parse_utc(committed).timestamp(), parse_utc(done).timestamp() - due / 1e6)
                          for committed, due, done in conn.execute(text(
                              "SELECT committed_at, due_since, delivered_at FROM webhook_outbox "
                              "WHERE delivered_at IS NOT NULL"))]
                per_stream = [r[0] for r in conn.execute(text(
                    "SELECT COUNT(*) FROM webhook_outbox GROUP BY stream ORDER BY 1 DESC"))]
                attempt_ms = [r[0] for r in conn.execute(text("SELECT latency_ms FROM webhook_attempts"))]
                first_try = [parse_utc(at).timestamp() - due / 1e6 for due, at in conn.execute(text(
                    "SELECT o.due_since, a.attempted_at FROM webhook_outbox o JOIN webhook_attempts a "
                    "ON a.subscription_id = o.subscription_id AND a.position = o.position AND a.attempt = 1"))]
                retried = conn.execute(text("SELECT COUNT(*) FROM webhook_outbox WHERE attempts > 1")).scalar()
    finally:
        if deliverer is not None:
            deliverer.send_signal(signal.SIGTERM)
            deliverer.wait(timeout=30)
        receiver.down()
        container.close()
        engine.dispose()
        bench_ledger.drop()
    first: dict[int, float] = {}
    for position, at, _ in arrivals:
        first.setdefault(position, at)
    lost = sorted(wanted - set(first))
    lags = [first[p] - at for at, ps in acks for p in ps if p in first]
    base = []
    index = 0
    for at, ps in acks:
        while index < len(read_models) and (read_models[index][1] < max(ps) or read_models[index][0] < at):
            index += 1
        base.append(read_models[index][0] - at if index < len(read_models) else float("inf"))
    return {"events": len(wanted), "events_per_s": round(achieved, 1), "lost": len(lost),
            "duplicates": len(arrivals) - len(first),
            "p50_s": round(quantile(lags, 0.50), 3), "p95_s": round(quantile(lags, 0.95), 3),
            "p99_s": round(quantile(lags, 0.99), 3), "max_s": round(max(lags), 3),
            # None: the read models had not caught up with the last batch by the end of the run
            "read_models_p99_s": None if quantile(base, 0.99) == float("inf") else round(quantile(base, 0.99), 3),
            "queued_p99_s": round(quantile([s[0] for s in stages], 0.99), 3),
            "queue_to_delivered_p99_s": round(quantile([s[1] for s in stages], 0.99), 3),
            # deliveries are serial within a stream: its busiest streams and a POST's latency bound the rate
            "streams": len(per_stream), "busiest_streams": per_stream[:3],
            "attempt_p50_ms": round(quantile(attempt_ms, 0.5), 2),
            "attempt_p99_ms": round(quantile(attempt_ms, 0.99), 2),
            "queued_to_first_attempt_p99_s": round(quantile(first_try, 0.99), 3), "rows_retried": retried}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--in-server", action="store_true",
                        help="deliver in the server process instead of a `ledger deliver` process")
    parser.add_argument("--record", action="store_true", help="also write results/<date>-b9-<database>.json")
    args = parser.parse_args(argv)
    runs = []
    for n in range(args.runs):
        runs.append(one_run(args.database, args.seconds, args.rate, separate=not args.in_server))
        print(f"[b9] run {n + 1}: {json.dumps(runs[-1])}", file=sys.stderr, flush=True)
    summary = {}
    for key in ("p50_s", "p95_s", "p99_s", "max_s", "read_models_p99_s", "events_per_s"):
        values = [r[key] for r in runs if r[key] is not None]
        summary[key] = {"median": statistics.median(values), "spread": round(max(values) - min(values), 3),
                        "runs": len(values)} if values else None
    p99 = summary["p99_s"]["median"]
    base = (summary["read_models_p99_s"] or {}).get("median")
    row = {"id": "B9", "what": f"webhook lag commit->receipt at ~{args.rate} events/s: p99 (s)", "value": p99,
           "baseline": base, "ratio": round(p99 / base, 3) if base else None,
           "target": "p99 <= 2 s, none lost", "met": p99 <= 2.0 and all(r["lost"] == 0 for r in runs),
           "summary": summary, "runs": runs}
    print(json.dumps(row, indent=2))
    if args.record:
        RESULTS.mkdir(exist_ok=True)
        name = RESULTS / f"{dt.date.today().isoformat()}-b9-{args.database}.json"
        name.write_text(json.dumps({"database": args.database, "seconds": args.seconds, "rate": args.rate,
                                    "delivery": "in the server" if args.in_server else "ledger deliver process",
                                    "rows": [row]}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
