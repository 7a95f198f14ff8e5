"""Queries of the audit trail: keyset pages and a streaming CSV export with the same filters,
and the trail as people read it (one row per step).

Order is the global log order (``position``), stable under concurrent appends: a page
continues strictly after the cursor's position, so walking the pages visits every matching
row exactly once. Filters: ``coi``, ``unit_id`` (through ``audit_links``), ``actor``,
``type``, and ``since`` / ``until`` on the server time ``recorded_at`` (both inclusive).

One row per step (:func:`one_row_per_step`): some steps write the same event on several
streams, so that each unit's own history is complete: packing and unpacking (``PackedInto`` /
``UnpackedFrom`` on the unit's and the container's stream) and everything done to a container
with contents (handover, receipt, dispatch, delivery: once on the container, once per content
with ``via_container``) and a step whose data names every stream it touches
(``ManufacturingStarted`` on the lot and each input). The audit trail read model keeps one row
per event (Part 11: every record); the portal and the dossier PDF show such a group once, on
the first row, with the others listed as its ``mirrors``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from ledger.domain.events_unit import PackedInto, UnpackedFrom

from .common import decode_cursor, encode_cursor, loads, rows, sql, utc_text
from .scope_query import EVERYTHING, ReadScope

MAX_PAGE = 1000
CSV_BATCH = 1000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ("position, event_id, stream, seq, type, recorded_at, occurred_at, actor, on_behalf, "
           "site, coi, unit_id, what, why, changes, corrected_event_id, corrected_by, signer, "
           "signer_name, sign_meaning, signed_at, sign_key_id, detail, event_hash")
CSV_HEADER = ("position", "recorded_at", "occurred_at", "actor", "on_behalf", "site", "type",
              "coi", "unit_id", "what", "why", "old_new_values", "corrected_event_id",
              "corrected_by", "signature", "signer", "printed_name", "meaning", "signed_at",
              "event_id", "stream", "seq", "event_hash")


@dataclass(frozen=True)
class AuditFilters:
    coi: str | None = None
    unit_id: str | None = None
    actor: str | None = None
    type: str | None = None
    since: datetime | str | None = None
    until: datetime | str | None = None

    @classmethod
    def of(cls, filters: AuditFilters | Mapping[str, Any] | None) -> AuditFilters:
        if filters is None:
            return cls()
        if isinstance(filters, AuditFilters):
            return filters
        return cls(**{k: v for k, v in filters.items() if v is not None})


def _query(filters: AuditFilters, after: int, limit: int,
           scope: ReadScope = EVERYTHING) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {"after": after, "n": limit}
    joins, where = [], []
    key = "a.position"
    if filters.coi is not None:
        joins.append("JOIN audit_links lc ON lc.position = a.position AND lc.key_kind = 'coi' "
                     "AND lc.link_key = :coi")
        params["coi"], key = filters.coi, "lc.position"
    if filters.unit_id is not None:
        params["unit"] = str(filters.unit_id)
        if filters.coi is None:
            joins.append("JOIN audit_links lu ON lu.position = a.position "
                         "AND lu.key_kind = 'unit' AND lu.link_key = :unit")
            key = "lu.position"
        else:
            where.append("EXISTS (SELECT 1 FROM audit_links lu WHERE lu.key_kind = 'unit' "
                         "AND lu.link_key = :unit AND lu.position = a.position)")
    for column in ("actor", "type"):
        value = getattr(filters, column)
        if value is not None:
            where.append(f"a.{column} = :{column}")
            params[column] = value
    if filters.since is not None:
        where.append("a.recorded_at >= :since")
        params["since"] = utc_text(filters.since)
    if filters.until is not None:
        where.append("a.recorded_at <= :until")
        params["until"] = utc_text(filters.until)
    if not scope.everything:  # a row is in scope with its case (or, for a holder, its unit)
        condition, more = scope.rows("a.coi", "a.unit_id")
        where.append(condition)
        params.update(more)
    where.insert(0, f"{key} > :after")
    columns = ", ".join(f"a.{c.strip()}" for c in COLUMNS.split(","))
    statement = (f"SELECT {columns} FROM audit_trail a {' '.join(joins)} WHERE {' AND '.join(where)} "
           f"ORDER BY {key} LIMIT :n")
    return statement, params


def shape(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as the trail answers it (JSON columns loaded, the signature as one object)."""
    row["changes"] = loads(row["changes"])
    row["corrected_by"] = loads(row["corrected_by"]) or []
    row["detail"] = loads(row["detail"])
    signer = row.pop("signer")
    manifestation = {"signer": signer, "printed_name": row.pop("signer_name"),
                     "meaning": row.pop("sign_meaning"), "signed_at": row.pop("signed_at"),
                     "key_id": row.pop("sign_key_id")}
    row["signature"] = manifestation if signer else None
    return row


def render_signature(signature: Mapping[str, Any] | None) -> str:
    """Name, date/time and meaning, always all three (11.50)."""
    if not signature:
        return ""
    return (f"{signature['printed_name']} ({signature['signer']}), {signature['signed_at']}, "
            f"{signature['meaning']}")


def audit_trail_page(conn: Connection, filters: AuditFilters | Mapping[str, Any] | None = None,
                     cursor: str | None = None, limit: int = 100,
                     scope: ReadScope = EVERYTHING) -> dict[str, Any]:
    """``{"items": [row ...], "next_cursor": str | None}``; each row::

        {position, event_id, stream, seq, type, recorded_at, occurred_at, actor, on_behalf,
         site, coi, unit_id, what, why,
         changes: [{field, old, new, original}] | None,   # EventCorrected rows
         corrected_event_id, corrected_by: [event_id ...],  # set on corrected rows
         signature: {signer, printed_name, meaning, signed_at, key_id} | None,
         detail: {...event data without pseudonyms...},
         event_hash}   # the sealed event's hash at ``position`` in the log
    """
    limit = max(1, min(limit, MAX_PAGE))
    statement, params = _query(AuditFilters.of(filters), decode_cursor(cursor), limit + 1, scope)
    found = [shape(r) for r in rows(conn.execute(sql(statement), params))]
    more = len(found) > limit
    items = found[:limit]
    return {"items": items, "next_cursor": encode_cursor(items[-1]["position"]) if more else None}


def safe_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    cell = "" if value is None else str(value)
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([safe_cell(v) for v in values])
    return buffer.getvalue()


def _changes_text(changes: list[dict[str, Any]] | None) -> str:
    if not changes:
        return ""
    return "; ".join(f"{c['field']}: {c['old']!r} -> {c['new']!r}" for c in changes)


def audit_trail_csv(conn: Connection, filters: AuditFilters | Mapping[str, Any] | None = None,
                    scope: ReadScope = EVERYTHING) -> Iterator[str]:
    """CSV lines (header first, CRLF-terminated) of every matching row, in log order.

    Reads :data:`CSV_BATCH` rows at a time by keyset, so memory stays constant; the
    connection must stay open while the iterator is consumed.
    """
    selected = AuditFilters.of(filters)
    yield _csv_line(list(CSV_HEADER))
    after = 0
    while True:
        statement, params = _query(selected, after, CSV_BATCH, scope)
        batch = [shape(r) for r in rows(conn.execute(sql(statement), params))]
        for r in batch:
            sig = r["signature"] or {}
            yield _csv_line([
                r["position"], r["recorded_at"], r["occurred_at"], r["actor"], r["on_behalf"],
                r["site"], r["type"], r["coi"], r["unit_id"], r["what"], r["why"],
                _changes_text(r["changes"]), r["corrected_event_id"],
                " ".join(r["corrected_by"]), render_signature(r["signature"]),
                sig.get("signer"), sig.get("printed_name"), sig.get("meaning"),
                sig.get("signed_at"), r["event_id"], r["stream"], r["seq"], r["event_hash"]])
        if len(batch) < CSV_BATCH:
            return
        after = batch[-1]["position"]


def filters_dict(filters: AuditFilters) -> dict[str, Any]:
    return {k: v for k, v in asdict(filters).items() if v is not None}


PAIRED = (PackedInto.__name__, UnpackedFrom.__name__)  # one step, written on the unit and the container
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def readable(text: str | None, labels: Mapping[str, str]) -> str | None:
    """Unit ids in a sentence replaced by the labels printed on the units."""
    return UUID.sub(lambda m: labels.get(m.group(0), m.group(0)), text) if text else text


def _step_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return row["type"], row["actor"], row.get("on_behalf"), row["recorded_at"], row.get("occurred_at")


def _mirror_of(row: Mapping[str, Any], primary: Mapping[str, Any]) -> bool:
    """Whether ``row`` repeats ``primary`` (the same step, recorded on another stream)."""
    if _step_key(row) != _step_key(primary) or row["stream"] == primary["stream"]:
        return False
    data, first = row.get("detail") or {}, primary.get("detail") or {}
    if data == first:
        return True
    if row["type"] in PAIRED:
        return (data.get("unit"), data.get("container")) == (first.get("unit"), first.get("container"))
    return data.get("via_container") == primary["stream"] and not first.get("via_container")


def one_row_per_step(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` (audit trail rows in log order) with each mirrored event folded into the row of
    its step: that row gets ``mirrors`` (the folded rows) and ``contents`` (the unit ids that
    moved inside a container). Every other row is kept as it is, with empty lists."""
    out: list[dict[str, Any]] = []
    open_steps: list[dict[str, Any]] = []  # rows of the step being read (same type/actor/time)
    for row in rows:
        if open_steps and _step_key(open_steps[0]) != _step_key(row):
            open_steps = []
        primary = next((p for p in open_steps if _mirror_of(row, p)), None)
        if primary is None:
            item = {**row, "mirrors": [], "contents": []}
            out.append(item)
            open_steps.append(item)
            continue
        primary["mirrors"].append(dict(row))
        if (row.get("detail") or {}).get("via_container"):
            primary["contents"].append(row["stream"])
    return out
