"""``python -m bench --size quick|100k|1m [--only B1,B3] [--database sqlite|postgres] [--keep]``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .env import BenchLedger
from .generate import generate
from .suite import BENCHMARKS, Run, build_read_models, run_selected

# main size, small size (B4g growth and B6 memory), seconds per load test, generator processes
SIZES = {"quick": (20_000, 5_000, 8), "100k": (100_000, 10_000, 15), "1m": (1_000_000, 10_000, 20)}
RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {"nproc": os.cpu_count(), "memory_gib": round(mem_kb / 2**20, 1), "python": sys.version.split()[0],
            "sched_autogroup": _autogroup()}


def _autogroup() -> bool | None:
    """Whether the kernel groups CPU time by session: with it, a saturated machine starves the
    database server's processes for up to a second or more (B4's tail; see PERFORMANCE.md)."""
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return None


def table(rows: list[dict]) -> str:
    lines = [f"{'id':<5} {'what':<58} {'value':>12} {'baseline':>12} {'ratio':>7} {'target':>22} met"]
    for r in rows:
        base = "-" if r["baseline"] is None else f"{r['baseline']:.1f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3f}"
        lines.append(f"{r['id']:<5} {r['what'][:58]:<58} {r['value']:>12.2f} {base:>12} {ratio:>7} "
                     f"{r['target']:>22} {'yes' if r['met'] else 'NO'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="quick")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated ids, e.g. B1,B3")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="postgres",
                        help="store for B3-B6 (B1, B2 and B7 always use PostgreSQL)")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="generator processes")
    parser.add_argument("--record", action="store_true", help="also write results/<date>-<size>.json")
    parser.add_argument("--keep", action="store_true",
                        help="keep the generated ledgers (printed: workdir and database URL) to profile them")
    args = parser.parse_args(argv)
    only = [x.strip().upper() for x in args.only.split(",") if x.strip()]
    if only == ["B8"]:  # the planner alone: no ledger to generate
        from .planning import main as planning_main

        return planning_main(["--record"] if args.record else [])
    events, small_events, seconds = SIZES[args.size]
    needs_pg = any(x in only for x in ("B1", "B2", "B7"))
    kind = "postgres" if needs_pg and args.database == "postgres" else args.database
    scratch = Path(tempfile.mkdtemp(prefix="bench-scratch-"))
    ledgers: list[BenchLedger] = []
    started = time.perf_counter()
    try:
        main_ledger = BenchLedger.create(kind, "bench_main")
        ledgers.append(main_ledger)
        print(f"[bench] generating {events} events ({kind}) ...", file=sys.stderr, flush=True)
        generated = generate(main_ledger, events, processes=args.processes)
        print(f"[bench] generated {generated}", file=sys.stderr, flush=True)
        small = BenchLedger.create(kind, "bench_small")
        ledgers.append(small)
        generate(small, small_events, processes=args.processes)
        run = Run(main_ledger, small, seconds, scratch)
        run.notes["b5"] = build_read_models(main_ledger)
        build_read_models(small)
        if needs_pg and kind != "postgres":
            print("[bench] B1/B2/B7 need PostgreSQL: skipped with --database sqlite", file=sys.stderr)
            only = [x for x in only if x not in ("B1", "B2", "B7")]
        from .baselines import sample_states

        container = main_ledger.container()
        run.notes["states"] = sample_states(container.ledger)
        container.close()
        run_selected(run, only)
    finally:
        for ledger in ledgers:
            if args.keep:
                print(f"[bench] kept {ledger.workdir} {ledger.settings.database_url}", file=sys.stderr)
            else:
                ledger.drop()
        shutil.rmtree(scratch, ignore_errors=True)
    result = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "size": args.size,
              "database": kind, "command": "python -m bench " + " ".join(argv or sys.argv[1:]),
              "machine": machine(), "generate": generated, "seconds": round(time.perf_counter() - started, 1),
              "results": run.rows}
    print(table(run.rows))
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(result, indent=2) + "\n"
    (RESULTS / "latest.json").write_text(text)
    if args.record:
        (RESULTS / f"{dt.date.today().isoformat()}-{args.size}-{kind}.json").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
