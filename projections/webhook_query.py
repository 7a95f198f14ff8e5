"""Queries of the webhook tables (``projections.webhook_outbox``, ``ledger.webhooks.delivery``):
subscriptions with their queue counts, and a subscription's delivery log with every attempt."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, bindparam, text

from ledger.webhooks.delivery import message_id

from .common import sql

_QUEUE_COUNTS = text(
    "SELECT subscription_id, status, COUNT(*) FROM webhook_outbox WHERE subscription_id IN :ss "
    "GROUP BY subscription_id, status").bindparams(bindparam("ss", expanding=True))


def subscriptions(conn: Connection, *, owner: str | None = None, subscription_id: str | None = None
                  ) -> list[dict[str, Any]]:
    """Subscriptions (of ``owner``, or the one ``subscription_id``; else all), oldest first."""
    where, params = "1 = 1", {}
    if owner is not None:
        where, params = "owner = :o", {"o": owner}
    if subscription_id is not None:
        where, params = "subscription_id = :s", {"s": subscription_id}
    found = conn.execute(sql(
        "SELECT subscription_id, owner, url, terms, status, created_position, created_at "
        f"FROM webhook_subscriptions WHERE {where} ORDER BY created_position"), params).all()  # noqa: S608
    counts: dict[str, dict[str, int]] = {}
    for sid, state, n in conn.execute(_QUEUE_COUNTS, {"ss": [row[0] for row in found]}) if found else ():
        counts.setdefault(sid, {})[state] = n  # the shown subscriptions' rows, not the whole outbox
    out = []
    for sid, who, url, terms, status, position, created in found:
        t = json.loads(terms)
        out.append({"subscription_id": sid, "owner": who, "url": url, "event_types": t["event_types"],
                    "sites": t["sites"], "cois": t["cois"], "min_severity": t["min_severity"], "status": status,
                    "created_position": position, "created_at": created, "queue": counts.get(sid, {})})
    return out


def deliveries(conn: Connection, subscription_id: str, *, after: int = 0, limit: int = 100
               ) -> tuple[list[dict[str, Any]], int | None]:
    """``(rows, next_after)``: queued events after position ``after``, each with its attempts."""
    rows = conn.execute(sql(
        "SELECT position, event_id, event_type, status, attempts, committed_at, delivered_at, last_status, "
        "last_error FROM webhook_outbox WHERE subscription_id = :s AND position > :a ORDER BY position "
        "LIMIT :n"), {"s": subscription_id, "a": after, "n": limit + 1}).all()
    page, more = rows[:limit], len(rows) > limit
    attempts: dict[int, list[dict[str, Any]]] = {}
    if page:
        for r in conn.execute(sql(
                "SELECT position, attempt, attempted_at, outcome, status_code, latency_ms, error "
                "FROM webhook_attempts WHERE subscription_id = :s AND position > :a AND position <= :b "
                "ORDER BY position, attempt"), {"s": subscription_id, "a": after, "b": page[-1][0]}):
            attempts.setdefault(r[0], []).append({
                "attempt": r[1], "attempted_at": r[2], "outcome": r[3], "status_code": r[4], "latency_ms": r[5],
                "error": r[6]})
    return [{"position": r[0], "event_id": r[1], "event_type": r[2], "webhook_id": message_id(subscription_id, r[1]),
             "status": r[3], "attempts": r[4], "committed_at": r[5], "delivered_at": r[6], "last_status": r[7],
             "last_error": r[8], "attempt_log": attempts.get(r[0], [])} for r in page], (
        page[-1][0] if more else None)
