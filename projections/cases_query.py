"""Queries of the ``cases`` read model (see ``projections.cases``): one case, and pages of cases."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection

from .common import decode_cursor, encode_cursor, rows, sql
from .scope_query import EVERYTHING, ReadScope

COLUMNS = ("case_id, coi, kind, product, treating_site, collection_site, protocol, status, "
           "milestone, hold_reason, enrolled_at, event_id, units, last_event_at, last_position")
MAX_PAGE = 500


def case_summary(conn: Connection, coi: str) -> dict[str, Any] | None:
    """The case with COI ``coi`` (a :data:`COLUMNS` dict), or None."""
    found = rows(conn.execute(sql(f"SELECT {COLUMNS} FROM cases WHERE coi = :coi"),
                              {"coi": coi}))
    return found[0] if found else None


def list_cases(conn: Connection, *, status: str | None = None, kind: str | None = None,
               treating_site: str | None = None, product: str | None = None,
               cursor: str | None = None, limit: int = 50, scope: ReadScope = EVERYTHING,
               cois: Collection[str] | None = None) -> dict[str, Any]:
    """Cases in ``scope``, in enrolment order: ``{"items": [case dict ...], "next_cursor": str | None}``.

    ``cois``: only these cases (a search's matches, ``projections.search_query``; empty: none)."""
    limit = max(1, min(limit, MAX_PAGE))
    where, params = ["enrolled_position > :after"], {"after": decode_cursor(cursor), "n": limit + 1}
    for column, value in (("status", status), ("kind", kind), ("treating_site", treating_site),
                          ("product", product)):
        if value is not None:
            where.append(f"{column} = :{column}")
            params[column] = value
    if cois is not None:
        wanted = sorted(set(cois))
        where.append(f"coi IN ({', '.join(f':q{i}' for i in range(len(wanted)))})" if wanted else "1 = 0")
        params.update({f"q{i}": c for i, c in enumerate(wanted)})
    if not scope.everything:
        condition, more = scope.cases("coi")
        where.append(condition)
        params.update(more)
    found = rows(conn.execute(sql(
        f"SELECT {COLUMNS}, enrolled_position FROM cases WHERE {' AND '.join(where)} "
        "ORDER BY enrolled_position LIMIT :n"), params))
    more = len(found) > limit
    items = found[:limit]
    positions = [item.pop("enrolled_position") for item in items]
    return {"items": items, "next_cursor": encode_cursor(positions[-1]) if more else None}
