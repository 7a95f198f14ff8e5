"""B8: re-planning the open book with CP-SAT, 1,000 orders against 100 on the same network.

Network: 10 plants in four time zones, 30 collection sites (each with lanes to and from 3 plants),
a 90-day horizon. Measured: wall time of ``cpsat.replan`` including candidate generation, median of
3 runs and their spread; the share of orders placed; and that ``constraints.check_book`` finds no
violation in the result. ``python -m bench.planning [--record]`` runs it alone (no ledger needed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

from ledger.planning import constraints, cpsat, synthetic

from .suite import row

START = dt.date(2027, 1, 4)
SHAPE = {"plants": 10, "sites": 30, "days": 90, "chairs": 2}
LOADS = {"B8": 14, "B8c": 10}
"""Manufacturing suites per plant: 14 fits the 1,000-order book; 10 over-subscribes it (~80 % fit)."""
RESULTS = Path(__file__).parent / "results"


def _replan(orders: int, repeats: int, suites: int) -> dict:
    net = synthetic.network(hospitals=SHAPE["sites"], plants=SHAPE["plants"], days=SHAPE["days"], start=START,
                            suites=suites, chairs=SHAPE["chairs"])
    book = synthetic.orders(net, orders, start=START, days=SHAPE["days"])
    seconds, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = cpsat.replan(net, book, time_limit_s=120)
        seconds.append(time.perf_counter() - started)
    violations = constraints.check_book(net, {o.id: o for o in book}, result.placed)
    return {"orders": orders, "median_s": statistics.median(seconds), "runs_s": [round(s, 3) for s in seconds],
            "spread_s": round(max(seconds) - min(seconds), 3), "placed": len(result.placed),
            "share_placed": round(len(result.placed) / orders, 3), "violations": len(violations),
            "status": result.status, "chunks": result.chunks, "candidates": result.candidates,
            "unplaced_reasons": dict(sorted(_count(result.unplaced.values()).items()))}


def _count(values) -> dict:
    counts: dict = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def rows(repeats: int = 3) -> list[dict]:
    made = []
    for id_, suites in LOADS.items():
        small = _replan(100, repeats, suites)
        big = _replan(1000, repeats, suites)
        ratio = big["median_s"] / small["median_s"]
        checked = small["violations"] == 0 and big["violations"] == 0
        made.append(row(id_, f"re-plan 1,000 orders vs 100, {suites} suites/plant (s)", big["median_s"],
                        round(small["median_s"], 3), "<= 15", ratio <= 15 and checked,
                        shape={**SHAPE, "suites": suites}, small=small, big=big))
        made.append(row(f"{id_}p", f"share of 1,000 orders placed, {suites} suites/plant", big["share_placed"],
                        None, "checker passes", checked, small_share=small["share_placed"],
                        violations=big["violations"] + small["violations"]))
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.planning", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="also write results/<date>-b8.json")
    args = parser.parse_args(argv)
    from . import __main__ as cli

    measured = rows(args.repeats)
    print(cli.table(measured))
    result = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "command": "python -m bench.planning",
              "machine": cli.machine(), "results": measured}
    text = json.dumps(result, indent=2, default=str) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest-b8.json").write_text(text)
    if args.record:
        (RESULTS / f"{dt.date.today().isoformat()}-b8.json").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
