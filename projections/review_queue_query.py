"""QA's cross-case work queue: one row per case in scope, with what the review needs at a glance.

Built from the read models at query time (``cases``, ``queue_cases`` / ``queue_products`` of
``projections.review_queue``, ``review_exceptions``, ``scope_sites``), on SQLite and PostgreSQL alike.

Stage of a case (the queue's indication; the release gate decides, see ``ledger.domain``):

===================  ===========================================================================
stage                when
===================  ===========================================================================
``infused``          the case's milestone is ``infused`` (a patient infused; a donor case one of
                     whose doses was infused)
``released``         milestone ``released`` or ``allocated`` (a product of the case released; an
                     allogeneic patient given a released dose)
``awaiting_release`` a final product exists, the latest ``ReviewSignedOff`` is current (after the
                     last exception of the case was raised, dispositioned or acknowledged) and
                     no COI-critical or GMP exception is open
``awaiting_review``  a final product exists, otherwise
``in_progress``      no final product yet
===================  ===========================================================================

Open exceptions are those of the case's COI (its case stream and its units and lots) whose state
is ``open`` (not yet dispositioned, whether or not cleared), counted by severity; the timed kinds
(overdue handover, delivery) count once they are late at ``now``, as in ``GET /v1/exceptions``.
``due`` is the earliest expiry of the case's final products not yet released, infused or disposed.

Figures (``ledger.domain.release.case_figures``, as in the release summary):
``needle_to_needle_days`` first collection -> infusion (-> ``now`` while not infused; patient cases
with a collection of their own, so not a donor case nor an allogeneic patient),
``manufacturing_end_to_signoff_h`` first final product labelled -> latest review sign-off,
``manufacturing_end_to_release_h`` -> first release; and their distribution over every row the
filters select (all pages): n, min, median, p90 (nearest rank), max.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from ledger.domain.release import case_figures
from ledger.timefmt import parse_utc

from .common import InvalidCursor, from_micros, micros, rows, sql, utc_text
from .custody_query import DELIVERY_SLA, HANDOVER_LIMIT
from .exceptions_query import TIMED
from .scope_query import EVERYTHING, ReadScope

STAGES = ("awaiting_review", "awaiting_release", "released", "infused", "in_progress")
SEVERITIES = ("coi_critical", "gmp", "informational")
BLOCKING = ("coi_critical", "gmp")
SORTS = ("age", "due", "coi", "open")
FIGURES = ("needle_to_needle_days", "manufacturing_end_to_signoff_h", "manufacturing_end_to_release_h")
MAX_PAGE = 500


def figures_of(row: Mapping[str, Any], now: str) -> dict[str, float | None]:
    """The case's figures, by the release summary's definition (``ledger.domain.release.case_figures``),
    from the times the queue's read model keeps (text form)."""
    times = {k: parse_utc(row[k]) if row[k] else None
             for k in ("collected_at", "infused_at", "manufactured_at", "signed_off_at", "released_at")}
    return case_figures(**times, now=parse_utc(now))


def distribution(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """``{n, min, median, p90, max}`` of the values given (None ignored; p90 by nearest rank)."""
    known = sorted(v for v in values if v is not None)
    if not known:
        return {"n": 0, "min": None, "median": None, "p90": None, "max": None}
    n = len(known)
    middle = known[n // 2] if n % 2 else round((known[n // 2 - 1] + known[n // 2]) / 2, 2)
    return {"n": n, "min": known[0], "median": middle, "p90": known[max(0, math.ceil(0.9 * n) - 1)],
            "max": known[-1]}


def stage_of(milestone: str, *, manufactured: bool, signoff_position: int | None, changed_position: int,
             blocking_open: int) -> str:
    if milestone == "infused":
        return "infused"
    if milestone in ("released", "allocated"):
        return "released"
    if not manufactured:
        return "in_progress"
    if signoff_position is not None and signoff_position > changed_position and not blocking_open:
        return "awaiting_release"
    return "awaiting_review"


def _timed(now: str, handover_limit: timedelta, delivery_sla: timedelta) -> dict[str, Any]:
    moment = micros(now)
    return {"hc": from_micros(moment - handover_limit // timedelta(microseconds=1)),
            "dc": from_micros(moment - delivery_sla // timedelta(microseconds=1)),
            "hs": handover_limit.total_seconds(), "ds": delivery_sla.total_seconds(), "now": now}


def _exceptions(conn: Connection, now: str, scope: ReadScope, handover_limit: timedelta,
                delivery_sla: timedelta) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """Per COI: open counts and oldest opening by severity; and the latest exception opening."""
    params = _timed(now, handover_limit, delivery_sla)
    where = [TIMED, "opened_at <= :now", "coi IS NOT NULL"]
    if not scope.everything:
        condition, more = scope.cases("coi")
        where.append(condition)
        params.update(more)
    open_rows = rows(conn.execute(sql(
        "SELECT coi, severity, COUNT(*) AS n, MIN(opened_at) AS oldest FROM review_exceptions "
        f"WHERE {' AND '.join(where)} AND state = 'open' GROUP BY coi, severity"), params))  # noqa: S608
    latest = {r["coi"]: int(r["p"]) for r in conn.execute(sql(
        f"SELECT coi, MAX(opened_position) AS p FROM review_exceptions WHERE {' AND '.join(where)} "  # noqa: S608
        "GROUP BY coi"), params).mappings()}
    counts: dict[str, dict[str, Any]] = {}
    for row in open_rows:
        entry = counts.setdefault(row["coi"], {"open": dict.fromkeys(SEVERITIES, 0), "oldest": None})
        entry["open"][row["severity"]] = entry["open"].get(row["severity"], 0) + int(row["n"])
        entry["oldest"] = min(filter(None, (entry["oldest"], row["oldest"])))
    return counts, latest


def _cases(conn: Connection, scope: ReadScope, site: str | None, cois: Collection[str] | None) -> list[dict[str, Any]]:
    where, params = ["1 = 1"], {}
    if cois is not None:
        wanted = sorted(set(cois))
        where.append(f"c.coi IN ({', '.join(f':q{i}' for i in range(len(wanted)))})" if wanted else "1 = 0")
        params.update({f"q{i}": c for i, c in enumerate(wanted)})
    if site is not None:
        where.append("c.coi IN (SELECT s.coi FROM scope_sites s WHERE s.site = :site)")
        params["site"] = site
    if not scope.everything:
        condition, more = scope.cases("c.coi")
        where.append(condition)
        params.update(more)
    return rows(conn.execute(sql(
        "SELECT c.case_id, c.coi, c.kind, c.product, c.treating_site, c.collection_site, c.status, c.milestone, "
        "q.collected_at, q.manufactured_at, q.released_at, q.infused_at, q.signed_off_at, q.signoff_position, "
        "q.review_changed_position, (SELECT MIN(p.expiry) FROM queue_products p WHERE p.coi = c.coi "
        "AND p.released_at IS NULL AND p.infused = 0 AND p.disposed = 0) AS due "
        "FROM cases c LEFT JOIN queue_cases q ON q.case_id = c.case_id "
        f"WHERE {' AND '.join(where)}"), params))  # noqa: S608


def _sort_key(row: Mapping[str, Any], sort: str) -> list[Any]:
    if sort == "age":
        return [row["oldest_open_at"] is None, row["oldest_open_at"] or "", row["coi"]]
    if sort == "due":
        return [row["due"] is None, row["due"] or "", row["coi"]]
    if sort == "open":
        return [*(-row["open"][s] for s in SEVERITIES), row["coi"]]
    return [row["coi"]]


def _encode(key: list[Any], sort: str) -> str:
    raw = json.dumps({"s": sort, "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str | None, sort: str) -> list[Any] | None:
    if not cursor:
        return None
    try:
        found = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key = found["k"]
        ok = found["s"] == sort and isinstance(key, list) and len(key) == len(_sort_key(_EXAMPLE, sort))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, KeyError):
        ok = False
    if not ok:
        raise InvalidCursor("the cursor is not one this service issued for this sort")
    return key


_EXAMPLE = {"oldest_open_at": None, "due": None, "coi": "", "open": dict.fromkeys(SEVERITIES, 0)}


def review_queue(conn: Connection, *, now: datetime | str, stage: str | None = None, severity: str | None = None,
                 site: str | None = None, cois: Collection[str] | None = None, sort: str = "age",
                 cursor: str | None = None, limit: int = 50, scope: ReadScope = EVERYTHING,
                 handover_limit: timedelta = HANDOVER_LIMIT, delivery_sla: timedelta = DELIVERY_SLA
                 ) -> dict[str, Any]:
    """``{"items": [row ...], "next_cursor", "total", "stages": {stage: n}, "figures": {figure: distribution}}``.

    ``cois``: only these cases (a search's matches). ``stages`` counts the rows the other filters
    select, by stage; ``total`` and ``figures`` cover every row selected (all pages)."""
    if stage is not None and stage not in STAGES:
        raise ValueError(f"stage is one of {', '.join(STAGES)}")
    if severity is not None and severity not in SEVERITIES:
        raise ValueError(f"severity is one of {', '.join(SEVERITIES)}")
    if sort not in SORTS:
        raise ValueError(f"sort is one of {', '.join(SORTS)}")
    limit = max(1, min(limit, MAX_PAGE))
    after = _decode(cursor, sort)
    moment = utc_text(now)
    counts, latest = _exceptions(conn, moment, scope, handover_limit, delivery_sla)
    selected: list[dict[str, Any]] = []
    stages = dict.fromkeys(STAGES, 0)
    for case in _cases(conn, scope, site, cois):
        facts = counts.get(case["coi"], {"open": dict.fromkeys(SEVERITIES, 0), "oldest": None})
        opened = {s: int(facts["open"].get(s, 0)) for s in SEVERITIES}
        row = {
            "case_id": case["case_id"], "coi": case["coi"], "kind": case["kind"], "product": case["product"],
            "treating_site": case["treating_site"], "collection_site": case["collection_site"],
            "status": case["status"],
            "stage": stage_of(case["milestone"], manufactured=case["manufactured_at"] is not None,
                              signoff_position=case["signoff_position"],
                              changed_position=max(latest.get(case["coi"], 0),
                                                   int(case["review_changed_position"] or 0)),
                              blocking_open=sum(opened[s] for s in BLOCKING)),
            "open": {**opened, "total": sum(opened.values())},
            "oldest_open_at": facts["oldest"],
            "oldest_open_age_s": (micros(moment) - micros(facts["oldest"])) // 1_000_000 if facts["oldest"] else None,
            "due": case["due"],
            **{k: case[k] for k in ("collected_at", "manufactured_at", "signed_off_at", "released_at", "infused_at")},
        }
        # a donor's collection starts no patient's needle-to-needle time
        row["figures"] = figures_of({**case, "collected_at": case["collected_at"] if case["kind"] != "donor" else None},
                                    moment)
        if severity is not None and not opened[severity]:
            continue
        stages[row["stage"]] += 1
        if stage is not None and row["stage"] != stage:
            continue
        selected.append(row)
    selected.sort(key=lambda r: _sort_key(r, sort))
    page = [r for r in selected if after is None or _sort_key(r, sort) > after]
    more = len(page) > limit
    page = page[:limit]
    return {
        "items": page, "next_cursor": _encode(_sort_key(page[-1], sort), sort) if more else None,
        "total": len(selected), "stages": stages,
        "figures": {name: distribution(r["figures"][name] for r in selected) for name in FIGURES},
    }
