"""Unit commands: labelling, collection, scans, custody, packing and shipping."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from ..domain import custody, labelling
from ..domain.case import recorded_refusal
from ..domain.identifiers import issue_unit_label, patient_pseudonym
from ..domain.unit import UnitState
from ..streams import case_stream, unit_stream
from .cases import site_secret
from .executor import Context, Executor, Outcome, Reads

# Steps where a wrong bag or a wrong patient must be stopped, not just noted.
COI_CRITICAL_PURPOSES = frozenset({"collection", "release", "infusion"})


class UnitService:
    def __init__(self, executor: Executor, clock: Callable[[], datetime], master_secret: bytes) -> None:
        self.executor = executor
        self.clock = clock
        self.master_secret = master_secret

    def state(self, unit_id: UUID) -> UnitState:
        return Reads(self.executor.ledger).unit(unit_id)

    def label(
        self, ctx: Context, *, coi: str, kind: str, spec: Mapping[str, Any] | None = None,
        identifiers: Mapping[str, str] | None = None, parents: Sequence[UUID] = (),
        custodian: str | None = None, product: str | None = None, volume_ml: float | None = None,
        label: str | None = None,
    ) -> Outcome:
        """Label a new unit; ``label`` is issued here unless the caller planned one already."""
        now = self.clock()
        label = label or issue_unit_label()

        def decide(reads: Reads):
            return labelling.decide_label_unit(
                reads.case(case_stream(coi)), unit_id=unit_stream(label), kind=kind, label=label,
                spec=spec, identifiers=identifiers, parents=reads.units(list(parents)),
                custodian=custodian, product=product, volume_ml=volume_ml, actor=ctx.actor, now=now,
            )

        return self.executor.run(
            ctx, decide, answer=lambda ev: {"unit_id": str(ev[0].stream), "label": ev[0].data["label"]}
        )

    def collect(
        self, ctx: Context, *, unit_id: UUID, wristband_mrn: str, material: str, collection_site: str,
        volume_ml: float | None = None, started_at: datetime | None = None, ended_at: datetime | None = None,
    ) -> Outcome:
        """Collection at the chair: the wristband's MRN is pseudonymised with the treating site's
        key and compared with the case's pseudonym; the MRN itself is never stored."""
        now = self.clock()

        def decide(reads: Reads):
            unit = reads.unit(unit_id)
            case = reads.case(unit.case) if unit.case else reads.case(unit_id)
            ref = patient_pseudonym(site_secret(self.master_secret, case.site or ""), wristband_mrn)
            return labelling.decide_collect(
                case, unit, patient_ref=ref, material=material, collection_site=collection_site,
                volume_ml=volume_ml, started_at=started_at, ended_at=ended_at, actor=ctx.actor, now=now,
            )

        return self.executor.run(ctx, decide)

    def scan(
        self, ctx: Context, *, unit_id: UUID | None, raw: str, purpose: str,
        parsed: Mapping[str, str] | None = None, expected_coi: str | None = None,
        expected_unit: UUID | None = None, location: str | None = None,
    ) -> Outcome:
        """Record a scan and its verdict; a mismatch at a COI-critical step is recorded, then
        refused with COI_MISMATCH (the scan and the refusal are both in the trail)."""
        now = ctx.event_time(self.clock)

        def decide(reads: Reads):
            unit = reads.unit(unit_id) if unit_id is not None else None
            case = reads.case(case_stream(expected_coi)) if expected_coi else None
            events = labelling.decide_scan(
                unit, raw=raw, purpose=purpose, parsed=parsed, case=case, expected_coi=expected_coi,
                expected_unit=expected_unit, location=location, device=ctx.device, actor=ctx.actor, now=now,
            )
            verdict = events[0].data["verdict"]
            if verdict == "mismatch" and purpose in COI_CRITICAL_PURPOSES:
                # One attempt, one refusal: on the case the step was for (the unit's if none).
                at = case.stream if case is not None and case.version else (unit.case if unit else None)
                refused = recorded_refusal(
                    [at] if at else [],
                    "COI_MISMATCH", f"scan:{purpose}", events[0].data.get("reason") or "wrong unit",
                    coi=unit.coi if unit else None, unit=unit.stream if unit else None,
                    label=unit.label if unit else None,
                )
                refused.events[:0] = events
                raise refused
            return events

        return self.executor.run(ctx, decide, answer=lambda events: {
            "verdict": events[0].data["verdict"], "reason": events[0].data.get("reason")})

    def _contents(self, reads: Reads, unit: UnitState) -> list[UnitState]:
        return reads.units(list(unit.contents))

    def handover(self, ctx: Context, *, unit_id: UUID, to_party: str, location: str | None = None,
                 condition: str | None = None) -> Outcome:
        now = self.clock()

        def decide(reads: Reads):
            unit = reads.unit(unit_id)
            return custody.decide_handover(unit, to_party, contents=self._contents(reads, unit),
                                           location=location, condition=condition, actor=ctx.actor, now=now)

        return self.executor.run(ctx, decide)

    def acknowledge(self, ctx: Context, *, unit_id: UUID, location: str | None = None,
                    condition: str | None = None) -> Outcome:
        now = self.clock()

        def decide(reads: Reads):
            unit = reads.unit(unit_id)
            return custody.decide_acknowledge(unit, contents=self._contents(reads, unit), location=location,
                                              condition=condition, actor=ctx.actor, now=now)

        return self.executor.run(ctx, decide)

    def decline(self, ctx: Context, *, unit_id: UUID, reason: str) -> Outcome:
        now = self.clock()

        def decide(reads: Reads):
            unit = reads.unit(unit_id)
            return custody.decide_decline(unit, reason, contents=self._contents(reads, unit),
                                          actor=ctx.actor, now=now)

        return self.executor.run(ctx, decide)

    def pack(self, ctx: Context, *, unit_id: UUID, container_id: UUID) -> Outcome:
        now = self.clock()

        def decide(reads: Reads):
            container = reads.unit(container_id)
            return custody.decide_pack(reads.unit(unit_id), container, contents=self._contents(reads, container),
                                       actor=ctx.actor, now=now)

        return self.executor.run(ctx, decide)

    def unpack(self, ctx: Context, *, unit_id: UUID, container_id: UUID) -> Outcome:
        now = self.clock()
        return self.executor.run(ctx, lambda r: custody.decide_unpack(
            r.unit(unit_id), r.unit(container_id), actor=ctx.actor, now=now))

    def dispatch(self, ctx: Context, *, unit_id: UUID, carrier: str, tracking: str, from_site: str,
                 to_site: str) -> Outcome:
        now = self.clock()

        def decide(reads: Reads):
            unit = reads.unit(unit_id)
            return custody.decide_dispatch(unit, carrier=carrier, tracking=tracking, from_site=from_site,
                                           to_site=to_site, contents=self._contents(reads, unit),
                                           actor=ctx.actor, now=now)

        return self.executor.run(ctx, decide)

    def deliver(self, ctx: Context, *, unit_id: UUID, tracking: str | None = None,
                to_site: str | None = None, condition: str | None = None) -> Outcome:
        now = self.clock()

        def decide(reads: Reads):
            unit = reads.unit(unit_id)
            return custody.decide_deliver(unit, tracking=tracking, to_site=to_site, condition=condition,
                                          contents=self._contents(reads, unit), actor=ctx.actor, now=now)

        return self.executor.run(ctx, decide)
