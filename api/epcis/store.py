"""The ``epcis_captures`` and ``epcis_event_map`` tables (migration 0006)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from projections.common import rows, sql


def find(conn: Connection, scope_id: str) -> dict[str, Any] | None:
    row = conn.execute(sql("SELECT result FROM epcis_captures WHERE scope_id = :s"),
                       {"s": scope_id}).first()
    return json.loads(row[0]) if row else None


def save(engine: Engine, *, scope_id: str, document_hash: str, principal: str, captured_at: str,
         position: int | None, result: dict[str, Any], document: str,
         mapped: Iterable[dict[str, Any]]) -> None:
    """Record the capture once (a concurrent or retried capture of the same document by the
    same principal finds the row already there and leaves it)."""
    try:
        with engine.begin() as conn:
            conn.execute(sql(
                "INSERT INTO epcis_captures (scope_id, document_hash, principal, captured_at, "
                "position, result, document) VALUES (:s, :h, :p, :at, :pos, :r, :d)"),
                {"s": scope_id, "h": document_hash, "p": principal, "at": captured_at,
                 "pos": position, "r": json.dumps(result, sort_keys=True), "d": document})
            values = [{**m, "s": scope_id} for m in mapped]
            if values:
                conn.execute(sql(
                    "INSERT INTO epcis_event_map (epcis_event_id, scope_id, idx, ledger_event_id, "
                    "stream, ledger_type) VALUES (:e, :s, :i, :l, :st, :t)"), values)
    except IntegrityError:
        pass  # recorded already


def history(conn: Connection, epcis_event_id: str) -> list[dict[str, Any]]:
    """Ledger events earlier captures mapped from this EPCIS event, in capture order."""
    return rows(conn.execute(sql(
        "SELECT m.ledger_event_id, m.stream, m.ledger_type, m.scope_id FROM epcis_event_map m "
        "JOIN epcis_captures c ON c.scope_id = m.scope_id WHERE m.epcis_event_id = :e "
        "ORDER BY c.captured_at, m.idx, m.ledger_event_id"), {"e": epcis_event_id[:512]}))


def epcis_ids(conn: Connection, ledger_event_ids: list[str]) -> dict[str, str]:
    """The EPCIS eventID each of these ledger events was captured from (if any)."""
    out: dict[str, str] = {}
    for start in range(0, len(ledger_event_ids), 500):
        chunk = ledger_event_ids[start:start + 500]
        marks = ", ".join(f":e{i}" for i in range(len(chunk)))
        for row in conn.execute(sql(
                "SELECT ledger_event_id, epcis_event_id FROM epcis_event_map "
                f"WHERE ledger_event_id IN ({marks})"), {f"e{i}": e for i, e in enumerate(chunk)}):
            out.setdefault(row[0], row[1])
    return out
