"""Capture: validate, plan, append all-or-nothing, record the document and the result.

Idempotent per principal and document: the claim's scope is the principal and the SHA-256
of the document's JCS form, so capturing the same document again returns the first result
(``replayed``) and appends nothing, even when two captures race (the ledger's claim table
decides) or when nothing in the document could be applied (the capture record decides).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any
from uuid import UUID

import rfc8785

from ledger.errors import Forbidden, LedgerError
from ledger.services.executor import Reads, Step
from ledger.store.application import Claim
from ledger.timefmt import format_utc, utc_now
from projections.identifiers_query import lookup_identifier

from ..container import Container
from ..deps import Principal
from . import ids, store
from .access import CAPTURE_ROLES
from .mapping import plan_event
from .planner import EventPlan, PlanState, biz_step
from .semantic import Fault
from .validation import MALFORMED, Checked, check, parse, refuse


def resolver(container: Container):
    def resolve(epc: str) -> list[UUID]:
        found: set[str] = set()
        with container.engine.connect() as conn:
            for value in ids.lookup_values(epc):
                found |= {row["unit_id"] for row in lookup_identifier(conn, value)}
                if found:
                    break
        return [UUID(u) for u in sorted(found)]

    return resolve


def _canonical(checked: Checked) -> bytes:
    try:
        return ids.canonical(checked.document)
    except (rfc8785.CanonicalizationError, RecursionError, ValueError) as exc:
        raise refuse([Fault(MALFORMED, "NOT_CANONICALISABLE", "", None,
                            f"the document cannot be canonicalised (RFC 8785): {exc}"[:300])]) from None


def _guarded(step: Step, plan: EventPlan, base: str, first: bool, plans: list[EventPlan],
             summary: dict[str, Any]) -> Step:
    """The step with domain refusals naming the EPCIS event, and an answer that keeps the
    event types appended (and, on the first step, the plan) with the idempotency claim."""
    decide = step.decide

    def guarded(reads, now, actor):
        try:
            return decide(reads, now, actor)
        except LedgerError as exc:
            exc.detail = f"EPCIS event {plan.index} ({plan.event_id}): {exc.detail}"
            exc.extra.setdefault("errors", [{"code": exc.code, "pointer": base,
                                             "event_index": plan.index, "message": exc.detail}])
            raise

    def answer(events) -> dict[str, Any]:
        out: dict[str, Any] = {"types": [e.type for e in events]}
        if first:
            out["capture"] = {**summary, "plans": [p.to_json() for p in plans]}
        return out

    return replace(step, decide=guarded, answer=answer)


def capture(container: Container, principal: Principal, body: bytes, *,
            coi: str | None = None) -> tuple[dict[str, Any], bool]:
    """``(result, created)``: created is False when this document was captured before."""
    if not principal.may(CAPTURE_ROLES):
        raise Forbidden(f"role(s) {', '.join(principal.roles)} may not capture EPCIS events")
    checked = check(parse(body))
    text = _canonical(checked)
    digest = hashlib.sha256(text).hexdigest()
    claim = Claim(f"{principal.id}\x00epcis:{digest}", digest)
    with container.engine.connect() as conn:
        stored = store.find(conn, claim.scope_id)
    if stored is not None:
        return {**stored, "replayed": True}, False
    if container.settings.run_projections:
        container.wait_for(container.ledger.last_position(), timeout=5.0)
    services = container.services
    plans: list[EventPlan] = []

    def history(event_id: str) -> list[dict[str, Any]]:
        with container.engine.connect() as conn:
            return store.history(conn, event_id)

    steps: list[Step] = []
    state = PlanState(Reads(container.ledger), principal, resolver(container), steps, coi, history)
    for index, event in enumerate(checked.events):
        state.current = EventPlan(index, ids.event_id(event), str(event.get("type"))[:128],
                                  biz_step(event))
        plan_event(state, services.plan, event)
        plans.append(state.current)
    summary = {"document_hash": digest, "captured_by": principal.id,
               "captured_at": format_utc(utc_now()), "single_event": checked.single}
    owner = {i: p for p in plans for i in p.steps}
    guarded = [_guarded(step, owner[i], checked.base(owner[i].index), i == 0, plans, summary)
               for i, step in enumerate(steps)]
    outcomes = services.executor.run_steps(guarded, claim) if guarded else []
    result, mapped = _result(outcomes, summary, plans)
    container.metrics.events_appended.inc(sum(len(o.result.receipts) for o in outcomes
                                              if not o.result.replayed))
    store.save(container.engine, scope_id=claim.scope_id, document_hash=digest,
               principal=principal.id, captured_at=result["captured_at"],
               position=result["position"], result=result, document=text.decode(), mapped=mapped)
    replayed = bool(outcomes and outcomes[0].result.replayed)
    return {**result, "replayed": replayed}, not replayed


def _result(outcomes, summary: dict[str, Any], plans: list[EventPlan]
            ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The capture result; after a replay, the plan kept with the claim is the truth."""
    kept = outcomes[0].result.answer.get("capture") if outcomes else None
    if kept is None and outcomes:
        kept = (outcomes[0].result.answer.get("results") or [{}])[0].get("capture")
    info = {k: v for k, v in (kept or summary).items() if k != "plans"}
    plan_json = (kept or {}).get("plans") or [p.to_json() for p in plans]
    per_step = [list(zip(o.result.receipts, o.result.answer.get("types") or [], strict=False))
                for o in outcomes]
    events, mapped, positions = [], [], []
    for plan in plan_json:
        ledger_events = []
        for step in plan.pop("steps"):
            for receipt, kind in per_step[step] if step < len(per_step) else []:
                ledger_events.append({"event_id": receipt.event_id, "stream": str(receipt.stream),
                                      "seq": receipt.seq, "type": kind,
                                      "position": receipt.position})
                mapped.append({"e": plan["eventID"][:512], "i": plan["index"],
                               "l": receipt.event_id, "st": str(receipt.stream), "t": kind})
                positions.append(receipt.position)
        events.append({**plan, "ledger_events": ledger_events})
    result = {**info, "event_count": len(events),
              "applied": sum(1 for e in events if e["status"] != "not_applied"),
              "not_applied": sum(1 for e in events if e["status"] != "applied"),
              "position": max(positions) if positions else None, "events": events}
    return result, mapped
