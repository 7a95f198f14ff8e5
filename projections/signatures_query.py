"""Pending second signatures (``GET /v1/signatures/pending``): governed corrections awaiting QA's
approval and steps awaiting a witness, from the review-by-exception read model
(``correction_pending``, ``witness_missing`` not yet cleared) and the audit trail (who did the
step, so that the caller is never offered their own)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from .common import rows, sql, utc_text
from .scope_query import EVERYTHING, ReadScope

MAX_PENDING = 1000

KINDS = {"correction_pending": ("correction", "CorrectionApproved", "approved"),
         "witness_missing": ("witness", "StepWitnessed", "reviewed")}
"""Exception kind -> (pending kind, the event a signature records, the meaning it must carry)."""


def pending_signatures(conn: Connection, *, now: datetime | str, signer: str, kinds: set[str],
                       scope: ReadScope = EVERYTHING, limit: int = MAX_PENDING) -> list[dict[str, Any]]:
    """What ``signer`` may sign, in ``scope`` and in log order: of ``kinds`` (``correction``,
    ``witness``), those not yet approved, rejected or witnessed, a witness only while within its
    window (``due_at`` not passed), never a step ``signer`` did, was done for or signed. Each::

        {pending_id, kind, event_type, meaning, stream, step_type, coi, unit_id, actor,
         opened_at, due_at, detail}
    """
    wanted = [k for k, (kind, _, _) in KINDS.items() if kind in kinds]
    if not wanted:
        return []
    params: dict[str, Any] = {"now": utc_text(now), "me": signer, "n": max(1, min(limit, MAX_PENDING))}
    marks = ", ".join(f":k{i}" for i in range(len(wanted)))
    params.update({f"k{i}": k for i, k in enumerate(wanted)})
    where = [f"r.kind IN ({marks})", "r.cleared = FALSE", "(r.due_at IS NULL OR r.due_at >= :now)",
             "a.actor <> :me", "COALESCE(a.on_behalf, '') <> :me", "COALESCE(a.signer, '') <> :me"]
    if not scope.everything:
        condition, more = scope.rows("r.coi", "r.unit_id")
        where.append(condition)
        params.update(more)
    found = rows(conn.execute(sql(
        "SELECT r.kind, a.event_id, a.stream, a.type AS step_type, r.coi, r.unit_id, a.actor, r.opened_at, "
        "r.due_at, r.detail FROM review_exceptions r "
        "JOIN audit_trail a ON a.event_id = SUBSTR(r.exception_id, LENGTH(r.kind) + 2) "
        f"WHERE {' AND '.join(where)} ORDER BY r.opened_position LIMIT :n"), params))  # noqa: S608
    out = []
    for row in found:
        kind, event_type, meaning = KINDS[row.pop("kind")]
        out.append({"pending_id": str(row.pop("event_id")), "kind": kind, "event_type": event_type,
                    "meaning": meaning, **{k: (str(v) if k == "stream" else v) for k, v in row.items()}})
    return out
