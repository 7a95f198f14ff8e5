"""Reads of the orchestration read model (``projections.orchestration``), and :func:`network`, the
one function that builds the planner's :class:`~ledger.planning.network.Network` from it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, time
from typing import Any

from sqlalchemy import Connection

from ledger.planning.network import Lane, Network, Site, TimingRules

from .common import loads, rows, sql
from .orchestration import MILESTONES


def network(conn: Connection, rules: Mapping[str, TimingRules] | None = None, *,
            held_by: Iterable[str] = ()) -> Network:
    """The network as the read model knows it: sites with profiles, lanes, and the *free* slots per
    site, resource and local day (declared less booked). The slots the orders ``held_by`` hold count
    as free (they are being re-planned: their own bookings are theirs to move)."""
    sites = {site.id: site for site in site_profiles(conn)}
    capacity: dict[tuple[str, str, date], int] = {}
    for r in rows(conn.execute(sql("SELECT site, resource, day, slots, booked FROM plan_capacity"))):
        capacity[(r["site"], r["resource"], date.fromisoformat(r["day"]))] = max(0, r["slots"] - r["booked"])
    for order in held_by:
        found = order_row(conn, order)
        for slot in (found or {}).get("slots") or []:
            key = (slot["site"], slot["resource"], date.fromisoformat(slot["day"]))
            capacity[key] = capacity.get(key, 0) + 1
    return Network(sites=sites, lanes=lanes(conn), capacity=capacity, rules=dict(rules or {}))


def _site(r: Mapping[str, Any]) -> Site:
    return Site(id=r["site"], tz=r["tz"], capabilities=frozenset(loads(r["capabilities"])),
                closed_weekdays=frozenset(loads(r["closed_weekdays"])),
                holidays=frozenset(date.fromisoformat(d) for d in loads(r["holidays"])))


def site_profiles(conn: Connection, site: str | None = None) -> list[Site]:
    """Every site's planning profile (or only ``site``'s)."""
    where, params = ("WHERE site = :s", {"s": site}) if site is not None else ("", {})
    return [_site(r) for r in rows(conn.execute(sql(f"SELECT * FROM plan_sites {where} ORDER BY site"), params))]


def lanes(conn: Connection) -> tuple[Lane, ...]:
    return tuple(Lane(id=r["lane"], origin=r["origin"], destination=r["destination"],
                      transit_hours=float(r["transit_hours"]), cutoff=time.fromisoformat(r["cutoff"]),
                      days=frozenset(loads(r["days"])))
                 for r in rows(conn.execute(sql("SELECT * FROM plan_lanes ORDER BY lane"))))


def capacity(conn: Connection, site: str, first: date, last: date) -> list[dict[str, Any]]:
    """Per local day and resource of ``site``: slots, booked, free."""
    found = rows(conn.execute(sql(
        "SELECT day, resource, slots, booked FROM plan_capacity WHERE site = :s AND day >= :f AND day <= :l "
        "ORDER BY day, resource"), {"s": site, "f": first.isoformat(), "l": last.isoformat()}))
    return [{**r, "free": max(0, r["slots"] - r["booked"])} for r in found]


def _order(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for column in ("plan", "first_plan", "slots", "reason"):
        out[column] = loads(out[column])
    return out


def order_row(conn: Connection, order_id: str) -> dict[str, Any] | None:
    found = conn.execute(sql("SELECT * FROM plan_orders WHERE order_id = :o"), {"o": order_id}).first()
    return None if found is None else _order(found._mapping)


def orders(conn: Connection, *, sites: frozenset[str] | None, status: str | None = None, after: str = "",
           limit: int = 100) -> list[dict[str, Any]]:
    """Orders by id after ``after``; ``sites`` None: all, else those treated or made at one of them."""
    where, params = ["order_id > :a"], {"a": after, "n": limit}
    if status is not None:
        where.append("status = :st")
        params["st"] = status
    if sites is not None:
        if not sites:
            return []
        names = {f"s{i}": s for i, s in enumerate(sorted(sites))}
        marks = ", ".join(f":{k}" for k in names)
        where.append(f"(treating_site IN ({marks}) OR plant IN ({marks}))")
        params.update(names)
    return [_order(r) for r in rows(conn.execute(sql(
        f"SELECT * FROM plan_orders WHERE {' AND '.join(where)} ORDER BY order_id LIMIT :n"), params))]  # noqa: S608


def open_orders(conn: Connection) -> list[dict[str, Any]]:
    """Orders not cancelled and not yet infused (the open book a re-plan moves)."""
    return [_order(r) for r in rows(conn.execute(sql(
        "SELECT o.* FROM plan_orders o WHERE o.status <> 'cancelled' AND NOT EXISTS (SELECT 1 FROM plan_actuals a "
        "WHERE a.coi = o.coi AND a.milestone = 'infused') ORDER BY o.priority DESC, o.order_id")))]


def actuals(conn: Connection, coi: str) -> dict[str, dict[str, Any]]:
    """The first time each milestone happened to the case: ``{milestone: {at, site}}``."""
    found = rows(conn.execute(sql("SELECT milestone, at, site FROM plan_actuals WHERE coi = :c"), {"c": coi}))
    by = {r["milestone"]: {"at": r["at"], "site": r["site"]} for r in found}
    return {m: by[m] for m in MILESTONES if m in by}


def order_state(status: str, done: Mapping[str, Any]) -> str:
    """Where the order stands: cancelled, else the latest milestone reached, else its status."""
    if status == "cancelled":
        return "cancelled"
    reached = [m for m in MILESTONES if m in done and m != "qc_failed"]
    if "qc_failed" in done and "released" not in done:
        return "qc_failed"
    return reached[-1] if reached else status
