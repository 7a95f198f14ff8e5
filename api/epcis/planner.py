"""The bookkeeping of one capture's plan: which EPCIS event led to which service steps, what
was not applied and why, and which units the document names (including units it labels)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from ledger.services.executor import Context, Reads, Step

from ..deps import Principal, context_for
from ..policy import EVENT_ROLES
from . import cbv, ids
from .sensors import utc_text

Resolver = Callable[[str], list[UUID]]


@dataclass
class EventPlan:
    index: int
    event_id: str
    type: str
    biz_step: str | None
    applied: list[dict[str, Any]] = field(default_factory=list)
    not_applied: list[str] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        status = ("applied" if self.applied and not self.not_applied else
                  "partially_applied" if self.applied else "not_applied")
        return {"index": self.index, "eventID": self.event_id, "type": self.type,
                "bizStep": self.biz_step, "status": status, "applied": self.applied,
                "not_applied": self.not_applied, "steps": self.steps}


@dataclass
class Known:
    unit_id: UUID
    coi: str | None
    kind: str | None


class PlanState:
    """What planning needs to know, read once, plus what this document itself changes."""

    def __init__(self, reads: Reads, principal: Principal, resolver: Resolver,
                 steps: list[Step], case_coi: str | None,
                 history: Callable[[str], list[dict[str, Any]]] = lambda _: []) -> None:
        self.reads, self.principal, self.resolver = reads, principal, resolver
        self.history = history  # EPCIS event id -> ledger events earlier captures mapped it to
        self.steps, self.case_coi = steps, case_coi
        self.labelled: dict[str, Known] = {}  # EPCs this document labels
        self.contents: dict[UUID, set[UUID]] = {}  # containers' contents as the plan goes
        self.current: EventPlan | None = None

    # --- resolution -------------------------------------------------------------------
    def unit(self, epc: Any) -> Known | str:
        """The unit an EPC names, or why none (unknown, ambiguous)."""
        if not isinstance(epc, str):
            return "not an EPC"
        if epc in self.labelled:
            return self.labelled[epc]
        found = set()
        if epc.startswith(ids.UNIT):
            from ledger.streams import unit_stream

            try:
                direct = unit_stream(epc[len(ids.UNIT):])
            except Exception:  # noqa: BLE001 - a malformed label id is simply not ours
                direct = None
            if direct is not None and self.reads.unit(direct).version:
                found.add(direct)
        if not found:
            found = set(self.resolver(epc))
        if not found:
            return f"{epc}: no unit in this ledger carries this identifier"
        if len(found) > 1:
            return f"{epc}: several units carry this identifier (ambiguous)"
        unit_id = found.pop()
        state = self.reads.unit(unit_id)
        return Known(unit_id, state.coi, state.kind)

    def contents_of(self, container: UUID) -> set[UUID]:
        if container not in self.contents:
            self.contents[container] = set(self.reads.unit(container).contents)
        return self.contents[container]

    # --- recording --------------------------------------------------------------------
    def may(self, event_type: str) -> bool:
        return self.principal.may(EVENT_ROLES[event_type])

    def ctx(self, event: Mapping[str, Any]) -> Context:
        reason = ids.ours(event).get("backfillReason")
        return context_for(self.principal, site=None, occurred_at=utc_text(event.get("eventTime")),
                           backfill_reason=reason if isinstance(reason, str) else None)

    def run(self, what: str, unit: Known | None, epc: str | None, call: Callable[[], Any],
            **detail: Any) -> None:
        """Add one service command's step to the batch and note it as applied."""
        assert self.current is not None
        self.current.steps.append(len(self.steps))
        self.steps.append(call())
        self.current.applied.append({"action": what, "epc": epc,
                                     "unit_id": str(unit.unit_id) if unit else None, **detail})

    def skip(self, reason: str) -> None:
        assert self.current is not None
        if reason[:500] not in self.current.not_applied:
            self.current.not_applied.append(reason[:500])


def biz_step(event: Mapping[str, Any]) -> str | None:
    value = event.get("bizStep")
    return cbv.term("bizStep", value) if isinstance(value, str) else None


def disposition(event: Mapping[str, Any]) -> str | None:
    value = event.get("disposition")
    return cbv.term("disposition", value) if isinstance(value, str) else None


def parties(event: Mapping[str, Any], side: str) -> dict[str, str]:
    """``{owning_party, possessing_party, location}`` of ``sourceList`` / ``destinationList``."""
    key = "source" if side == "sourceList" else "destination"
    out: dict[str, str] = {}
    for item in event.get(side) or []:
        if isinstance(item, Mapping) and isinstance(item.get("type"), str):
            value = ids.party(item.get(key))
            kind = cbv.term("source_dest", item["type"])
            if value and kind not in out:
                out[kind] = value
    return out


def place(event: Mapping[str, Any]) -> str | None:
    for name in ("bizLocation", "readPoint"):
        where = event.get(name)
        if isinstance(where, Mapping):
            found = ids.party(where.get("id"))
            if found:
                return found
    return None


def tracking(event: Mapping[str, Any]) -> str | None:
    for item in event.get("bizTransactionList") or []:
        if isinstance(item, Mapping) and isinstance(item.get("type"), str) and cbv.term(
                "bizTransaction", item["type"]) in ("bol", "desadv"):
            return ids.party(item.get("bizTransaction"))
    return None
