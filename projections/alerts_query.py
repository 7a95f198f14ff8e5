"""Queries of the ``alerts`` read model (``projections.alerts``), within the reader's scope: an
alert is visible to a reader of one of the sites it concerns, or of its case."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Connection

from .common import loads, rows, sql
from .scope_query import ReadScope

COLUMNS = ("alert_id, kind, subject, coi, sites, severity, message, state, due_at, raised_at, raised_position, "
           "cleared_at, clear_reason")


def _visible(scope: ReadScope) -> tuple[str, dict[str, Any]]:
    if scope.everything:
        return "1 = 1", {}
    names = sorted(scope.sites or ())
    marks = ", ".join(f":vs{i}" for i in range(len(names))) or "NULL"
    case, params = scope.cases("a.coi")
    return (f"(a.alert_id IN (SELECT s.alert_id FROM alert_sites s WHERE s.site IN ({marks})) "
            f"OR (a.coi IS NOT NULL AND {case}))", {**params, **{f"vs{i}": s for i, s in enumerate(names)}})


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "sites": loads(row["sites"])}


def alerts(conn: Connection, scope: ReadScope, *, state: Literal["open", "cleared", "all"] = "open",
           site: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """The alerts in scope, newest first; ``site``: only those concerning that site."""
    visible, params = _visible(scope)
    where = [visible]
    if state != "all":
        where.append("a.state = :state")
        params["state"] = state
    if site is not None:
        where.append("a.alert_id IN (SELECT f.alert_id FROM alert_sites f WHERE f.site = :site)")
        params["site"] = site
    params["limit"] = limit
    return [_row(r) for r in rows(conn.execute(sql(
        f"SELECT {COLUMNS} FROM alerts a WHERE {' AND '.join(where)} "  # noqa: S608 - fixed fragments
        "ORDER BY a.raised_position DESC LIMIT :limit"), params))]


def alert(conn: Connection, scope: ReadScope, alert_id: str) -> dict[str, Any] | None:
    """One alert, or None when unknown or out of the reader's scope."""
    visible, params = _visible(scope)
    found = rows(conn.execute(sql(f"SELECT {COLUMNS} FROM alerts a WHERE a.alert_id = :id AND {visible}"),  # noqa: S608
                              {**params, "id": alert_id}))
    return _row(found[0]) if found else None


def open_count(conn: Connection) -> int:
    return conn.execute(sql("SELECT COUNT(*) FROM alerts WHERE state = 'open'")).scalar_one()


def open_in_scope(conn: Connection, scope: ReadScope) -> int:
    """How many open alerts the reader may see."""
    visible, params = _visible(scope)
    return conn.execute(sql(f"SELECT COUNT(*) FROM alerts a WHERE a.state = 'open' AND {visible}"),  # noqa: S608
                        params).scalar_one()
