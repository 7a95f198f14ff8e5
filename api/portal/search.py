"""Case search: a COI, any label identifier (ledger label, ISBT DIN with or without its ``=``, GS1,
SSCC, EPC ...), a lot or a tracking number (``projections.search_query``), or filters over the
cases read model (status, treating site, enrolment date)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection

from projections.cases import STATUSES
from projections.cases_query import list_cases
from projections.scope_query import ReadScope
from projections.search_query import search

PAGE = 500
MAX_SCANNED_PAGES = 20
MAX_SHOWN = 200


@dataclass
class Hit:
    query: str
    redirect: str | None = None
    units: list[dict[str, Any]] = field(default_factory=list)


def case_url(coi: str, unit_id: str | None = None) -> str:
    # "*" (a Mod 37-2 check character) is a legal path character: kept as the case's pages link it
    return f"/portal/cases/{quote(coi, safe='*')}" + (f"#unit-{unit_id}" if unit_id else "")


def resolve(conn: Connection, query: str, scope: ReadScope) -> Hit:
    """A COI goes to its case; anything else that names exactly one case (a unit label, a DIN with
    or without its ``=``, another label identifier, a lot or a tracking number: see
    ``projections.search_query``) to that case, at the unit when it names one unit; several
    cases: a choice (only cases and units in ``scope``: others are not found)."""
    hit = Hit(query)
    found = search(conn, query, scope)
    hit.units = [m for m in found if m["unit_id"] is not None]
    cois = list(dict.fromkeys(m["coi"] for m in found))
    if len(cois) == 1:
        units = {m["unit_id"] for m in hit.units}
        direct = any(m["unit_id"] is None for m in found)
        hit.redirect = case_url(cois[0], units.pop() if len(units) == 1 and not direct else None)
    return hit


def _day(text: str) -> str | None:
    if not text:
        return None
    return date.fromisoformat(text).isoformat()


def filter_cases(conn: Connection, *, status: str, site: str, since: str, until: str, scope: ReadScope
                 ) -> tuple[list[dict[str, Any]], bool, str | None]:
    """Matching cases (newest enrolment last), whether the list was cut, and a problem to show."""
    try:
        first, last = _day(since), _day(until)
    except ValueError:
        return [], False, "Dates must be given as YYYY-MM-DD."
    if status and status not in STATUSES:
        return [], False, f"Unknown status {status!r}."
    found: list[dict[str, Any]] = []
    cursor = None
    for _ in range(MAX_SCANNED_PAGES):
        page = list_cases(conn, status=status or None, treating_site=site or None, cursor=cursor, limit=PAGE,
                          scope=scope)
        for case in page["items"]:
            day = (case.get("enrolled_at") or "")[:10]
            if (first and day < first) or (last and day > last):
                continue
            found.append(case)
        cursor = page["next_cursor"]
        if not cursor or len(found) > MAX_SHOWN:
            break
    truncated = len(found) > MAX_SHOWN or cursor is not None
    return found[:MAX_SHOWN], truncated, None
