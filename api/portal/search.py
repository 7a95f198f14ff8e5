"""Case search: a COI or any label identifier (ledger label, ISBT DIN, GS1, SSCC, EPC ...), or
filters over the cases read model (status, treating site, enrolment date)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection

from projections.cases import STATUSES
from projections.cases_query import case_summary, list_cases
from projections.identifiers_query import lookup_identifier
from projections.scope_query import ReadScope, case_visible, visible_units

PAGE = 500
MAX_SCANNED_PAGES = 20
MAX_SHOWN = 200


@dataclass
class Hit:
    query: str
    redirect: str | None = None
    units: list[dict[str, Any]] = field(default_factory=list)


def case_url(coi: str, unit_id: str | None = None) -> str:
    return f"/portal/cases/{quote(coi, safe='')}" + (f"#unit-{unit_id}" if unit_id else "")


def resolve(conn: Connection, query: str, scope: ReadScope) -> Hit:
    """A COI goes to its case; a unit identifier to its case, at the unit; several: a choice
    (only cases and units in ``scope``: others are not found)."""
    hit = Hit(query)
    for candidate in dict.fromkeys((query, query.upper())):
        if case_summary(conn, candidate) is not None and case_visible(conn, scope, candidate):
            hit.redirect = case_url(candidate)
            return hit
    compact = re.sub(r"\s+", "", query)
    for candidate in dict.fromkeys((query, compact, compact.upper())):
        found = lookup_identifier(conn, candidate)
        shown = visible_units(conn, scope, [u["unit_id"] for u in found])
        hit.units = [u for u in found if u["unit_id"] in shown]
        if hit.units:
            break
    if len({(u["coi"], u["unit_id"]) for u in hit.units}) == 1:
        hit.redirect = case_url(hit.units[0]["coi"], hit.units[0]["unit_id"])
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
