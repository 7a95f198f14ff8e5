"""GET /v1/epcis/events and the export of a case: ledger events as EPCIS documents.

Events are those the audit trail links to a COI or a unit (an EPC resolves to its unit), in
global log order; filters follow the EPCIS SimpleEventQuery names (``eventType``,
``GE_eventTime``, ``LT_eventTime``, ``MATCH_epc`` (a trailing ``*`` matches a prefix),
``EQ_bizStep``). ``nextPageToken`` continues after the last event returned.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from ledger.store.application import Ledger
from ledger.timefmt import format_utc, utc_now
from projections.audit_query import audit_trail_page
from projections.common import encode_cursor
from projections.scope_query import EVERYTHING, ReadScope

from . import cbv, ids
from .export import Source, to_epcis, without_audit_fields
from .sensors import utc

EPC_FIELDS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
PAGE_SCAN = 500


@dataclass(frozen=True)
class Filters:
    event_types: frozenset[str] = frozenset()
    ge_time: datetime | None = None
    lt_time: datetime | None = None
    match_epc: tuple[str, ...] = ()
    biz_step: str | None = None

    def accepts(self, event: Mapping[str, Any]) -> bool:
        if self.event_types and event["type"] not in self.event_types:
            return False
        moment = utc(event["eventTime"])
        if self.ge_time and (moment is None or moment < self.ge_time):
            return False
        if self.lt_time and (moment is None or moment >= self.lt_time):
            return False
        if self.biz_step and cbv.term("bizStep", event.get("bizStep") or "") != self.biz_step:
            return False
        return not self.match_epc or any(_matches(p, e) for p in self.match_epc for e in epcs(event))


def _matches(pattern: str, epc: str) -> bool:
    return epc.startswith(pattern[:-1]) if pattern.endswith("*") else epc == pattern


def epcs(event: Mapping[str, Any]) -> list[str]:
    found = [e for f in EPC_FIELDS for e in event.get(f) or [] if isinstance(e, str)]
    return found + ([event["parentID"]] if isinstance(event.get("parentID"), str) else [])


def ledger_events(conn: Connection, ledger: Ledger, scope: Mapping[str, str], cursor: str | None,
                  source: Source | None = None, visible: ReadScope = EVERYTHING
                  ) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(position, EPCIS event)`` of every ledger event in ``scope`` (a COI or a unit) after
    ``cursor``, of the cases the reader's scope ``visible`` covers (as its audit trail rows)."""
    source = source or Source(ledger)
    while True:
        page = audit_trail_page(conn, dict(scope), cursor, PAGE_SCAN, visible)
        for row in page["items"]:
            sealed = source.event(row["stream"], row["seq"])
            converted = to_epcis(source, sealed) if sealed is not None else None
            if converted is not None:
                yield row["position"], converted
        cursor = page["next_cursor"]
        if cursor is None:
            return


def query(conn: Connection, ledger: Ledger, scope: Mapping[str, str], filters: Filters,
          cursor: str | None, per_page: int, *, visible: ReadScope = EVERYTHING,
          audit: bool = True) -> tuple[list[dict[str, Any]], str | None]:
    """A page of events; ``audit`` False (the reader may not read the audit trail): each
    without the audit trail's fields (``export.without_audit_fields``)."""
    out: list[dict[str, Any]] = []
    for position, event in ledger_events(conn, ledger, scope, cursor, visible=visible):
        if not filters.accepts(event):
            continue
        out.append(event if audit else without_audit_fields(event))
        if len(out) == per_page:
            return out, encode_cursor(position)
    return out, None


def query_document(events: list[dict[str, Any]], next_token: str | None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": ids.CONTEXT, "type": "EPCISQueryDocument", "schemaVersion": "2.0",
        "creationDate": format_utc(utc_now()),
        "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery",
                                       "resultsBody": {"eventList": events}}}}
    if next_token:
        document[f"{ids.PREFIX}:nextPageToken"] = next_token
    return document


def case_document(conn: Connection, ledger: Ledger, coi: str) -> dict[str, Any]:
    """Every ledger event of a case, as one EPCISDocument (validates against the schema)."""
    events = [event for _, event in ledger_events(conn, ledger, {"coi": coi}, None)]
    return {"@context": ids.CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": format_utc(utc_now()), "sender": ids.CASE + coi,
            "epcisBody": {"eventList": events}}
