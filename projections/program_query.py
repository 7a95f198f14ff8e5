"""The program's view of the orchestration read model: its figures (needle-to-needle days, on-time
rate, slot utilisation) and the capacity board (site x resource x day utilisation, with one order's
slots now and in its first booked plan). Read-scoped: ``sites`` None reads every site, else only
orders treated or made at, and capacity of, those sites."""

from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from .common import loads, rows, sql


def _visible(row: dict[str, Any], sites: frozenset[str] | None) -> bool:
    return sites is None or row["treating_site"] in sites or row["plant"] in sites


def _day(value: str) -> date:
    return date.fromisoformat(value[:10])


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def on_time(plan: dict | None, first: dict | None, infused_at: str | None) -> bool | None:
    """Whether an order keeps to its first booked plan: its infusion window opens no later than the
    first plan's and, once infused, the infusion fell no later than the first window's last day
    (UTC). None for an order that never held a plan."""
    if not plan or not first:
        return None
    opens, first_opens = _day(plan["infusion_window"]["from_day"]), _day(first["infusion_window"]["from_day"])
    if infused_at is not None:
        return _day(infused_at) <= _day(first["infusion_window"]["to_day"])
    return opens <= first_opens


def _summary(values: list[float]) -> dict[str, Any]:
    return {"count": len(values), "median": round(statistics.median(values), 1) if values else None,
            "mean": round(statistics.fmean(values), 1) if values else None}


def figures(conn: Connection, *, sites: frozenset[str] | None, first: date, last: date) -> dict[str, Any]:
    """Needle-to-needle days (planned and actual), the on-time rate and slot utilisation from
    ``first`` to ``last`` (local days), over the orders and capacity ``sites`` may read."""
    found = [dict(r) for r in rows(conn.execute(sql(
        "SELECT order_id, coi, treating_site, plant, status, plan, first_plan FROM plan_orders "
        "WHERE status <> 'cancelled' ORDER BY order_id")))]
    found = [r for r in found if _visible(r, sites)]
    done: dict[tuple[str, str], str] = {
        (r["coi"], r["milestone"]): r["at"] for r in rows(conn.execute(sql(
            "SELECT coi, milestone, at FROM plan_actuals WHERE milestone IN ('collected', 'infused')")))}
    planned_n2n, actual_n2n, late, kept = [], [], [], 0
    for row in found:
        plan, first_plan = loads(row["plan"]), loads(row["first_plan"])
        if plan:
            planned_n2n.append(float((_day(plan["infusion_window"]["from_day"])
                                      - _day(plan["apheresis"]["day"])).days))
        collected, infused = done.get((row["coi"], "collected")), done.get((row["coi"], "infused"))
        if collected and infused:
            actual_n2n.append((_instant(infused) - _instant(collected)) / timedelta(days=1))
        verdict = on_time(plan, first_plan, infused)
        if verdict is True:
            kept += 1
        elif verdict is False:
            late.append(row["order_id"])
    judged = kept + len(late)
    use: dict[str, dict[str, int]] = {}
    for r in rows(conn.execute(sql("SELECT site, resource, slots, booked FROM plan_capacity "
                                   "WHERE day >= :f AND day <= :l"), {"f": first.isoformat(), "l": last.isoformat()})):
        if sites is None or r["site"] in sites:
            total = use.setdefault(r["resource"], {"slots": 0, "booked": 0})
            total["slots"] += r["slots"]
            total["booked"] += r["booked"]
    utilisation = {resource: {**t, "rate": round(t["booked"] / t["slots"], 3) if t["slots"] else None}
                   for resource, t in sorted(use.items())}
    return {"from": first, "to": last, "orders": len(found),
            "needle_to_needle_days": {"planned": _summary(planned_n2n), "actual": _summary(actual_n2n)},
            "on_time": {"judged": judged, "on_time": kept, "rate": round(kept / judged, 3) if judged else None,
                        "late_orders": late},
            "slot_utilisation": utilisation}


def plan_slots(plan: dict | None, manufacturing_days: int | None = None) -> set[tuple[str, str, str]]:
    """The (site, resource, day) slots a plan holds: its apheresis chair and a suite per manufacturing day."""
    if not plan:
        return set()
    start, end = _day(plan["manufacturing"]["start_day"]), _day(plan["manufacturing"]["end_day"])
    days = manufacturing_days or (end - start).days + 1
    site = plan["manufacturing"]["site"]
    held = {(plan["apheresis"]["site"], "apheresis", plan["apheresis"]["day"])}
    held.update((site, "manufacturing", (start + timedelta(days=i)).isoformat()) for i in range(days))
    return held


def board(conn: Connection, *, sites: frozenset[str] | None, first: date, last: date) -> list[dict[str, Any]]:
    """One row per (site, resource) with capacity from ``first`` to ``last``: ``{site, resource,
    days: {day: (slots, booked)}}``, sites in name order, apheresis before manufacturing."""
    by: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}
    for r in rows(conn.execute(sql("SELECT site, resource, day, slots, booked FROM plan_capacity "
                                   "WHERE day >= :f AND day <= :l ORDER BY site, resource, day"),
                               {"f": first.isoformat(), "l": last.isoformat()})):
        if sites is None or r["site"] in sites:
            by.setdefault((r["site"], r["resource"]), {})[r["day"]] = (r["slots"], r["booked"])
    return [{"site": s, "resource": res, "days": days} for (s, res), days in sorted(by.items())]
