"""Run a domain decision against current state and append its events atomically.

The pattern (as in the ``eventsourcing`` examples): read the streams the decision needs,
fold them, decide, append with the versions read as expected seqs; if another writer moved
one of those streams meanwhile, read again and decide again. A ``RecordedRefusal`` (wrong
patient, wrong bag) is appended first and then raised, so the attempt is in the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from ..application import AppendResult, Claim, Draft, EsignIntent, Ledger
from ..domain.base import NewEvent, RecordedRefusal
from ..domain.case import CaseState, fold_case
from ..domain.esign import REQUIRED_MEANING, Manifestation
from ..domain.registry import DeviceState, SiteState, fold_device, fold_site
from ..domain.unit import UnitState, fold_unit
from ..domain.users import UserState, fold_user
from ..errors import StreamConflict
from ..streams import device_stream, site_stream, user_stream

MAX_DECISION_RETRIES = 8


@dataclass(frozen=True)
class SignOff:
    """A verified Part 11 signature intent: the manifestation the domain checks, the signer's
    state, and the intent the ledger uses to sign the final envelope."""

    manifestation: Manifestation
    signer: UserState
    intent: EsignIntent


@dataclass(frozen=True)
class Context:
    """Who submits, from where, with which device signature and idempotency claim."""

    actor: str
    on_behalf: str | None = None
    site: str | None = None
    device: str | None = None
    device_sig: Mapping[str, Any] | None = None
    occurred_at: str | None = None
    claim: Claim | None = None


@dataclass
class Reads:
    """Folds streams for a decision and remembers the version of each one read."""

    ledger: Ledger
    versions: dict[UUID, int] = field(default_factory=dict)
    _cache: dict[UUID, list[dict[str, Any]]] = field(default_factory=dict)

    def envelopes(self, stream: UUID) -> list[dict[str, Any]]:
        if stream not in self._cache:
            self._cache[stream] = [e.envelope for e in self.ledger.read_stream(stream)]
            self.versions[stream] = len(self._cache[stream])
        return self._cache[stream]

    def case(self, stream: UUID) -> CaseState:
        return fold_case(self.envelopes(stream))

    def unit(self, stream: UUID) -> UnitState:
        return fold_unit(self.envelopes(stream))

    def units(self, streams: list[UUID] | tuple[UUID, ...]) -> list[UnitState]:
        return [self.unit(s) for s in streams]

    def user(self, user_id: str) -> UserState:
        return fold_user(self.envelopes(user_stream(user_id)))

    def site(self, site_id: str) -> SiteState:
        return fold_site(self.envelopes(site_stream(site_id)))

    def device(self, device_id: str) -> DeviceState:
        return fold_device(self.envelopes(device_stream(device_id)))


@dataclass(frozen=True)
class Outcome:
    result: AppendResult
    events: list[NewEvent]

    @property
    def position(self) -> int:
        return max(r.position for r in self.result.receipts)


Decision = Callable[[Reads], list[NewEvent]]


class Executor:
    def __init__(self, ledger: Ledger, clock: Callable[[], datetime]) -> None:
        self.ledger = ledger
        self.clock = clock

    def run(
        self,
        ctx: Context,
        decide: Decision,
        *,
        signoff: SignOff | None = None,
        answer: Callable[[list[NewEvent]], dict[str, Any]] | None = None,
    ) -> Outcome:
        """Decide and append; ``answer`` builds the JSON kept with an idempotency claim."""
        if ctx.claim is not None:
            replay = self.ledger.claimed(ctx.claim)
            if replay is not None:
                return Outcome(replay, [])
        for _ in range(MAX_DECISION_RETRIES):
            reads = Reads(self.ledger)
            try:
                events = decide(reads)
            except RecordedRefusal as refusal:
                self._record_refusal(ctx, refusal)
                raise
            if not events:
                return Outcome(AppendResult([], {}), [])
            answered = answer(events) if answer is not None else {}
            claim = ctx.claim
            if claim is not None:
                claim = Claim(claim.scope, claim.request_digest, answered)
            drafts = self._drafts(ctx, events, reads.versions, signoff)
            try:
                result = self.ledger.append(drafts, claim=claim)
            except StreamConflict:
                continue
            if not result.replayed:
                result = AppendResult(result.receipts, answered)
            return Outcome(result, events)
        raise StreamConflict("the streams kept changing while deciding; try again")

    def _drafts(
        self, ctx: Context, events: list[NewEvent], versions: dict[UUID, int], signoff: SignOff | None
    ) -> list[Draft]:
        drafts = []
        signed = False
        for index, event in enumerate(events):
            esign = None
            if signoff is not None and not signed and (
                event.type in REQUIRED_MEANING or index == len(events) - 1
            ):
                esign, signed = signoff.intent, True
            device_sig = ctx.device_sig if index == 0 else None
            drafts.append(
                Draft(
                    type=event.type,
                    stream=event.stream,
                    data=event.data,
                    actor=ctx.actor,
                    occurred_at=ctx.occurred_at,  # every event of one command happened then
                    on_behalf=ctx.on_behalf,
                    site=ctx.site,
                    device=ctx.device if index == 0 else None,
                    device_sig=device_sig,
                    expected_seq=versions.get(event.stream),
                    esign=esign,
                )
            )
        return drafts

    def _record_refusal(self, ctx: Context, refusal: RecordedRefusal) -> None:
        drafts = [
            Draft(type=e.type, stream=e.stream, data=e.data, actor=ctx.actor, on_behalf=ctx.on_behalf,
                  site=ctx.site)
            for e in refusal.events
        ]
        if drafts:
            result = self.ledger.append(drafts)
            refusal.extra["recorded_event"] = [r.event_id for r in result.receipts]



def provisional(
    envelopes: list[dict[str, Any]], events: list[NewEvent], *, actor: str, now: datetime
) -> list[dict[str, Any]]:
    """``envelopes`` extended with stand-ins for ``events`` (same stream), so a second decision
    in one command can see the state the first one leads to."""
    from ..timefmt import format_utc

    out = list(envelopes)
    for event in events:
        out.append({
            "stream": str(event.stream), "seq": len(out) + 1, "event_id": f"pending-{len(out) + 1}",
            "type": event.type, "schema": 1, "recorded_at": format_utc(now), "occurred_at": None,
            "actor": actor, "on_behalf": None, "site": None, "data": event.data,
            "device_sig": None, "esign": None, "prev": "",
        })
    return out
