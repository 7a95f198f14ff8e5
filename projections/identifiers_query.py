"""Queries of the ``unit_identifiers`` index (see ``projections.identifiers``): which unit a
scanned value names, and every identifier of a unit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from .common import rows, sql


def lookup_identifier(conn: Connection, value: str, scheme: str | None = None
                      ) -> list[dict[str, Any]]:
    """Units whose label carries ``value`` (under ``scheme`` if given)::

        [{scheme, value, unit_id, coi, event_id}]   # usually one; several means ambiguous
    """
    where, params = "value = :v", {"v": value}
    if scheme is not None:
        where += " AND scheme = :s"
        params["s"] = scheme
    return rows(conn.execute(sql(
        "SELECT scheme, value, unit_id, coi, event_id FROM unit_identifiers "
        f"WHERE {where} ORDER BY scheme, unit_id"), params))


def identifiers_of(conn: Connection, unit_id: str) -> dict[str, str]:
    """Every identifier of one unit, by scheme (``label`` included)."""
    return {r[0]: r[1] for r in conn.execute(sql(
        "SELECT scheme, value FROM unit_identifiers WHERE unit_id = :u ORDER BY scheme"),
        {"u": str(unit_id)})}
