"""Run a domain decision against current state and append its events atomically.

The pattern (as in the ``eventsourcing`` examples): read the streams the decision needs,
fold them, decide, append with the versions read as expected seqs; if another writer moved
one of those streams meanwhile, read again and decide again. A ``RecordedRefusal`` (wrong
patient, wrong bag) is appended first and then raised, so the attempt is in the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from ..domain.base import NewEvent, RecordedRefusal, new_event
from ..domain.case import CaseState, fold_case
from ..domain.catalogue import spec_of
from ..domain.esign import Manifestation, require_on_behalf, require_signature_accepted
from ..domain.events_case import Backfilled
from ..domain.registry import DeviceState, SiteState, fold_device, fold_site
from ..domain.unit import UnitState, fold_unit
from ..domain.users import UserState, fold_user
from ..errors import Forbidden, InvalidEvent, RuleViolation, StreamConflict, StreamNotFound
from ..store.application import AppendResult, Claim, Draft, EsignIntent, Ledger
from ..streams import device_stream, site_stream, user_stream
from ..timefmt import format_utc, parse_utc
from .scope import CaseUnits, no_units, require_in_scope, require_read_in_scope
from .sites import named_sites, require_known_sites

MAX_DECISION_RETRIES = 8
BACKFILL_TOLERANCE = timedelta(hours=72)  # LEDGER_BACKFILL_HOURS: a courier's offline queue


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
    signoff: SignOff | None = None
    """The signature offered with the request (with ``on_behalf``, the person acted for's: it is
    accepted only with it); kept with the step's record or refused (``signed_index``)."""
    scope: tuple[str, ...] = ()
    """The sites the actor may act at (``ledger.services.scope``); empty: unrestricted."""
    may_backfill: bool = False
    """The submitter holds the ``backfill`` permission (API principals: ``api.policy``; the
    CLI's and the demo's own contexts are system-level)."""
    backfill_reason: str | None = None

    def event_time(self, clock: Callable[[], datetime]) -> datetime:
        """When the event happened: ``occurred_at`` when given (a backfilled post, a courier's
        offline queue), else the server clock. Product rules (expiry) are judged at this time."""
        return parse_utc(self.occurred_at) if self.occurred_at else clock()


@dataclass
class Reads:
    """Folds streams for a decision and remembers the version of each one read."""

    ledger: Ledger
    versions: dict[UUID, int] = field(default_factory=dict)
    _cache: dict[UUID, list[dict[str, Any]]] = field(default_factory=dict)
    trust_issued: bool = True  # see issued_case()
    # Registry states (frozen) folded once per version of their envelopes: a batch names the same
    # site in every one of its events, and folding a site's stream each time was ~15 % of a batch.
    _registry: dict[UUID, tuple[list[dict[str, Any]], Any]] = field(default_factory=dict)
    # Sites seen registered in the store, shared by an executor's reads: nothing undoes a site's
    # registration, so a site once known is not read again (one query per single-event request).
    known_sites: set[str] = field(default_factory=set)

    def envelopes(self, stream: UUID) -> list[dict[str, Any]]:
        if stream not in self._cache:
            self._cache[stream] = [e.envelope for e in self.ledger.read_stream(stream)]
            self.versions[stream] = len(self._cache[stream])
        return self._cache[stream]

    def extend(self, events: list[NewEvent], *, actor: str, now: datetime) -> None:
        """Let later decisions of the same batch see ``events`` (their versions stay as read)."""
        for stream in dict.fromkeys(e.stream for e in events):
            mine = [e for e in events if e.stream == stream]
            self._cache[stream] = provisional(self.envelopes(stream), mine, actor=actor, now=now)

    def case(self, stream: UUID) -> CaseState:
        return fold_case(self.envelopes(stream))

    def issued_case(self, stream: UUID) -> CaseState:
        """The case of a COI this request has just issued: new, so not read on the first try.

        Its events are then appended expecting an empty stream; if the COI was in fact taken,
        the store refuses seq 1, the executor decides again, and this time the stream is read
        (``trust_issued`` is False on retries), so the decision sees the existing case."""
        if self.trust_issued and stream not in self._cache:
            self._cache[stream], self.versions[stream] = [], 0
        return self.case(stream)

    def unit(self, stream: UUID) -> UnitState:
        return fold_unit(self.envelopes(stream))

    def units(self, streams: list[UUID] | tuple[UUID, ...]) -> list[UnitState]:
        return [self.unit(s) for s in streams]

    def user(self, user_id: str) -> UserState:
        return self._registry_state(user_stream(user_id), fold_user)

    def site(self, site_id: str) -> SiteState:
        return self._registry_state(site_stream(site_id), fold_site)

    def site_registered(self, site_id: str) -> bool:
        if site_id in self.known_sites:
            return True
        stream = site_stream(site_id)
        registered = self._registry_state(stream, fold_site).site_id is not None
        if registered and len(self.envelopes(stream)) == self.versions.get(stream):  # stored, not this batch's
            self.known_sites.add(site_id)
        return registered

    def device(self, device_id: str) -> DeviceState:
        return self._registry_state(device_stream(device_id), fold_device)

    def _registry_state(self, stream: UUID, fold: Callable[[list[dict[str, Any]]], Any]) -> Any:
        """``fold`` of the stream's envelopes, again only once they changed (``extend`` replaces
        the list, so the same list object means the same events)."""
        envelopes = self.envelopes(stream)
        kept = self._registry.get(stream)
        if kept is None or kept[0] is not envelopes:
            kept = self._registry[stream] = (envelopes, fold(envelopes))
        return kept[1]


@dataclass(frozen=True)
class Outcome:
    result: AppendResult
    events: list[NewEvent]

    @property
    def position(self) -> int:
        return max(r.position for r in self.result.receipts)


Decision = Callable[[Reads, datetime, str], list[NewEvent]]
"""``decide(reads, now, actor)``: the events to append, judged at ``now`` for ``actor`` (both
supplied by the executor, see :class:`Step`)."""


@dataclass(frozen=True)
class Step:
    """One command: who submits it (``ctx``), its decision, its sign-off, and the JSON kept with
    an idempotency claim (``answer``). A batch is a list of steps (``Executor.run_steps``)."""

    ctx: Context
    decide: Decision
    signoff: SignOff | None = None
    answer: Callable[[list[NewEvent]], dict[str, Any]] | None = None
    at_event_time: bool = False
    """Decide at when the event happened (``Context.event_time``: expiry, a backfilled post), not
    at the server clock (credentials, device keys, a reading in the future)."""


class Executor:
    def __init__(self, ledger: Ledger, clock: Callable[[], datetime], case_units: CaseUnits = no_units,
                 backfill_tolerance: timedelta = BACKFILL_TOLERANCE) -> None:
        self.ledger = ledger
        self.clock = clock
        self.case_units = case_units
        self.backfill_tolerance = backfill_tolerance
        self._known_sites: set[str] = set()  # shared by every Reads of this executor

    def run(self, step: Step) -> Outcome:
        """Decide and append one step."""
        return self.run_steps([step], step.ctx.claim)[0]

    def run_steps(self, steps: list[Step], claim: Claim | None) -> list[Outcome]:
        """Decide every step against the state the previous ones lead to, then append all
        their events in one transaction: all or nothing."""
        if claim is not None:
            replay = self.ledger.claimed(claim)
            if replay is not None:
                return self._outcomes(replay, len(steps), [], [])
        times = [step.ctx.event_time(self.clock) if step.at_event_time else self.clock()
                 for step in steps]
        backfills = [require_backfill_permitted(step.ctx, self.clock(), self.backfill_tolerance)
                     for step in steps]
        for attempt in range(MAX_DECISION_RETRIES):
            reads = Reads(self.ledger, trust_issued=attempt == 0, known_sites=self._known_sites)
            decided: list[tuple[Step, list[NewEvent], dict[str, Any]]] = []
            for step, now in zip(steps, times, strict=True):
                events = self._decide(reads, step, now)
                reads.extend(events, actor=step.ctx.actor, now=self.clock())
                decided.append((step, events, step.answer(events) if step.answer else {}))
            per_step = [self._drafts(step.ctx, events, reads.versions, step.signoff or step.ctx.signoff)
                        + (backfill_record(step.ctx, events, reads.versions) if backfilled else [])
                        for (step, events, _), backfilled in zip(decided, backfills, strict=True)]
            drafts = [d for step_drafts in per_step for d in step_drafts]
            counts = [len(step_drafts) for step_drafts in per_step]
            if not drafts:
                return [Outcome(AppendResult([], answered), events) for _, events, answered in decided]
            answers = [answered for _, _, answered in decided]
            stored_claim = None
            if claim is not None:
                kept = answers[0] if len(steps) == 1 else {
                    "results": answers, "counts": counts}
                stored_claim = Claim(claim.scope, claim.request_digest, kept)
            try:
                result = self.ledger.append(drafts, claim=stored_claim)
            except StreamConflict:
                continue
            return self._outcomes(result, len(steps), decided, counts)
        raise StreamConflict("the streams kept changing while deciding; try again")

    def _decide(self, reads: Reads, step: Step, now: datetime) -> list[NewEvent]:
        """One step's events, decided and checked: known sites, the signature of the person acted
        for, and the site scope of what it reads and writes."""
        ctx = step.ctx
        require_known_sites(reads, [ctx.site])
        if ctx.on_behalf is not None:
            given = ctx.signoff or step.signoff
            require_on_behalf(ctx.on_behalf, reads.user(ctx.on_behalf), given.manifestation.signer if given else None)
        try:
            events = step.decide(reads, now, ctx.actor)
        except (RuleViolation, StreamNotFound, InvalidEvent) as refused:
            # another site's staff learn nothing of its state, and leave no trace on it
            require_read_in_scope(reads, actor=ctx.actor, scope=ctx.scope, case_units=self.case_units)
            if isinstance(refused, RecordedRefusal):
                self._require_in_scope(reads, ctx, refused.events)
                self._record_refusal(ctx, refused)
            raise
        require_known_sites(reads, named_sites(events))
        self._require_in_scope(reads, ctx, events)
        return events

    def _require_in_scope(self, reads: Reads, ctx: Context, events: list[NewEvent]) -> None:
        require_in_scope(reads, events, actor=ctx.actor, site=ctx.site, scope=ctx.scope,
                         case_units=self.case_units)

    def _outcomes(self, result: AppendResult, steps: int, decided: list, counts: list[int]) -> list[Outcome]:
        """The one place a replayed claim is answered: found before deciding, or taken by a
        concurrent retry of the same request while this one decided."""
        if result.replayed:
            self._raise_if_refused(result)
            return self._replayed(result, steps)
        return self._split(result, decided, counts)

    @staticmethod
    def _replayed(replay: AppendResult, steps: int) -> list[Outcome]:
        if steps == 1:
            return [Outcome(replay, [])]
        outcomes, offset = [], 0
        for count, answered in zip(replay.answer["counts"], replay.answer["results"], strict=True):
            part = replay.receipts[offset:offset + count]
            offset += count
            outcomes.append(Outcome(AppendResult(part, answered, replayed=True), []))
        return outcomes

    @staticmethod
    def _split(result: AppendResult, decided: list, counts: list[int]) -> list[Outcome]:
        """Each step's receipts: its events', then its ``Backfilled`` record's, if any."""
        outcomes, offset = [], 0
        for (_, events, answered), count in zip(decided, counts, strict=True):
            receipts = result.receipts[offset:offset + count]
            offset += count
            outcomes.append(Outcome(AppendResult(receipts, answered), events))
        return outcomes

    def _drafts(
        self, ctx: Context, events: list[NewEvent], versions: dict[UUID, int], signoff: SignOff | None
    ) -> list[Draft]:
        drafts = []
        signed = signed_index(ctx, events, signoff) if signoff is not None else None
        for index, event in enumerate(events):
            esign = signoff.intent if signoff is not None and index == signed else None
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
        """Append the refused attempt's events; under the request's idempotency claim, so a
        retried request gets the same refusal back instead of recording a second one."""
        drafts = [
            Draft(type=e.type, stream=e.stream, data=e.data, actor=ctx.actor, on_behalf=ctx.on_behalf,
                  site=ctx.site, occurred_at=ctx.occurred_at)
            for e in refusal.events
        ]
        if not drafts:
            return
        claim = None
        if ctx.claim is not None:
            claim = Claim(ctx.claim.scope, ctx.claim.request_digest,
                          {"refused": {"code": refusal.code, "detail": refusal.detail}})
        result = self.ledger.append(drafts, claim=claim)
        refusal.extra["recorded_event"] = [r.event_id for r in result.receipts]

    @staticmethod
    def _raise_if_refused(replay: AppendResult) -> None:
        refused = replay.answer.get("refused")
        if refused is not None:
            raise RuleViolation(refused["detail"], code=refused["code"],
                                recorded_event=[r.event_id for r in replay.receipts])


def signed_index(ctx: Context, events: list[NewEvent], signoff: SignOff) -> int | None:
    """Which of a step's events keeps its signature: the first that requires one, else the first
    that may take one; refused (``require_signature_accepted``) when that one does not accept its
    meaning or none takes a signature, and (``SIGNER_NOT_AUTHORISED``) when the signer is neither
    the actor nor the person acted for."""
    if not events:
        return None
    who = signoff.manifestation.signer
    if who not in (ctx.actor, ctx.on_behalf):
        raise Forbidden(f"{who} cannot sign a step done by {ctx.actor}", code="SIGNER_NOT_AUTHORISED")
    rules = [spec_of(event.type).signing.rule for event in events]
    index = next((rules.index(rule) for rule in ("required", "optional") if rule in rules), 0)
    require_signature_accepted(events[index].type, signoff.manifestation.meaning)
    return index


def require_backfill_permitted(ctx: Context, now: datetime, tolerance: timedelta) -> bool:
    """Whether ``ctx`` records a backfill: an ``occurred_at`` more than ``tolerance`` before
    ``now``. A backfill is an explicit permission (403 ``BACKFILL_FORBIDDEN``) and needs a reason
    (422 ``BACKFILL_REASON_REQUIRED``); it is then recorded by :func:`backfill_record`."""
    if ctx.occurred_at is None or parse_utc(ctx.occurred_at) >= now - tolerance:
        return False
    hours = int(tolerance.total_seconds() // 3600)
    if not ctx.may_backfill:
        raise Forbidden(f"{ctx.actor} may not record an event that occurred more than {hours} hours ago "
                        "(backfill)", code="BACKFILL_FORBIDDEN")
    if not (ctx.backfill_reason or "").strip():
        raise InvalidEvent(f"an event that occurred more than {hours} hours ago needs a backfill_reason",
                           code="BACKFILL_REASON_REQUIRED")
    return True


def backfill_record(ctx: Context, events: list[NewEvent], versions: dict[UUID, int]) -> list[Draft]:
    """The audit record of a backfill: a ``Backfilled`` event after the command's events, on the
    first one's stream, in the same transaction (the envelope has no field for it)."""
    if not events:
        return []
    record = new_event(events[0].stream, Backfilled, reason=ctx.backfill_reason, occurred_at=ctx.occurred_at,
                       events=[{"type": e.type, "stream": e.stream} for e in events])
    return [Draft(type=record.type, stream=record.stream, data=record.data, actor=ctx.actor,
                  on_behalf=ctx.on_behalf, site=ctx.site, expected_seq=versions.get(record.stream))]


def provisional(
    envelopes: list[dict[str, Any]], events: list[NewEvent], *, actor: str, now: datetime
) -> list[dict[str, Any]]:
    """``envelopes`` extended with stand-ins for ``events`` (same stream), so a second decision
    in one command can see the state the first one leads to."""
    out = list(envelopes)
    recorded_at = format_utc(now)
    for event in events:
        out.append({
            "stream": str(event.stream), "seq": len(out) + 1, "event_id": f"pending-{len(out) + 1}",
            "type": event.type, "schema": 1, "recorded_at": recorded_at, "occurred_at": None,
            "actor": actor, "on_behalf": None, "site": None, "data": event.data,
            "device_sig": None, "esign": None, "prev": "",
        })
    return out
