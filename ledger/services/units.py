"""Unit commands: labelling, collection, scans, custody, packing and shipping."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from ..domain import custody, labelling
from ..domain.case import recorded_refusal
from ..domain.identifiers import issue_unit_label, patient_pseudonym
from ..domain.unit import UnitState
from ..streams import case_stream, unit_stream
from .cases import site_secret
from .executor import Context, Executor, Reads, Step
from .steps import Commands

R = TypeVar("R")
# Steps where a wrong bag or a wrong patient must be stopped, not just noted.
COI_CRITICAL_PURPOSES = frozenset({"collection", "release", "infusion"})


class UnitService(Commands[R]):
    def __init__(self, executor: Executor, master_secret: bytes,
                 run: Callable[[Step], R] | None = None) -> None:
        super().__init__(executor, run or executor.run)  # type: ignore[arg-type]
        self.master_secret = master_secret

    def state(self, unit_id: UUID) -> UnitState:
        return Reads(self.executor.ledger).unit(unit_id)

    def label(
        self, ctx: Context, *, coi: str, kind: str, spec: Mapping[str, Any] | None = None,
        identifiers: Mapping[str, str] | None = None, parents: Sequence[UUID] = (),
        custodian: str | None = None, product: str | None = None, volume_ml: float | None = None,
        label: str | None = None,
    ) -> R:
        """Label a new unit; ``label`` is issued here unless the caller planned one already."""
        label = label or issue_unit_label()

        def decide(reads: Reads, now: datetime, actor: str):
            return labelling.decide_label_unit(
                reads.case(case_stream(coi)), unit_id=unit_stream(label), kind=kind, label=label,
                spec=spec, identifiers=identifiers, parents=reads.units(list(parents)),
                custodian=custodian, product=product, volume_ml=volume_ml, actor=actor, now=now,
            )

        return self.command(
            ctx, decide, answer=lambda ev: {"unit_id": str(ev[0].stream), "label": ev[0].data["label"]}
        )

    def collect(
        self, ctx: Context, *, unit_id: UUID, wristband_mrn: str, material: str, collection_site: str,
        volume_ml: float | None = None, started_at: datetime | None = None, ended_at: datetime | None = None,
    ) -> R:
        """Collection at the chair: the wristband's MRN is pseudonymised with the treating site's
        key and compared with the case's pseudonym; the MRN itself is never stored."""

        def decide(reads: Reads, now: datetime, actor: str):
            unit = reads.unit(unit_id)
            case = reads.case(unit.case) if unit.case else reads.case(unit_id)
            ref = patient_pseudonym(site_secret(self.master_secret, case.site or ""), wristband_mrn)
            return labelling.decide_collect(
                case, unit, patient_ref=ref, material=material, collection_site=collection_site,
                volume_ml=volume_ml, started_at=started_at, ended_at=ended_at, actor=actor, now=now,
            )

        return self.command(ctx, decide)

    def scan(
        self, ctx: Context, *, unit_id: UUID | None, raw: str, purpose: str,
        parsed: Mapping[str, str] | None = None, expected_coi: str | None = None,
        expected_unit: UUID | None = None, location: str | None = None,
    ) -> R:
        """Record a scan and its verdict; a mismatch at a COI-critical step is recorded, then
        refused with COI_MISMATCH (the scan and the refusal are both in the trail)."""

        def decide(reads: Reads, now: datetime, actor: str):
            unit = reads.unit(unit_id) if unit_id is not None else None
            case = reads.case(case_stream(expected_coi)) if expected_coi else None
            events = labelling.decide_scan(
                unit, raw=raw, purpose=purpose, parsed=parsed, case=case, expected_coi=expected_coi,
                expected_unit=expected_unit, location=location, device=ctx.device, actor=actor, now=now,
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

        return self.command(ctx, decide, at_event_time=True, answer=lambda events: {
            "verdict": events[0].data["verdict"], "reason": events[0].data.get("reason")})

    def _contents(self, reads: Reads, unit: UnitState) -> list[UnitState]:
        return reads.units(list(unit.contents))

    def handover(self, ctx: Context, *, unit_id: UUID, to_party: str, location: str | None = None,
                 condition: str | None = None) -> R:

        def decide(reads: Reads, now: datetime, actor: str):
            unit = reads.unit(unit_id)
            return custody.decide_handover(unit, to_party, contents=self._contents(reads, unit),
                                           location=location, condition=condition, actor=actor, now=now)

        return self.command(ctx, decide)

    def acknowledge(self, ctx: Context, *, unit_id: UUID, location: str | None = None,
                    condition: str | None = None) -> R:

        def decide(reads: Reads, now: datetime, actor: str):
            unit = reads.unit(unit_id)
            return custody.decide_acknowledge(unit, contents=self._contents(reads, unit), location=location,
                                              condition=condition, actor=actor, now=now)

        return self.command(ctx, decide)

    def decline(self, ctx: Context, *, unit_id: UUID, reason: str) -> R:

        def decide(reads: Reads, now: datetime, actor: str):
            unit = reads.unit(unit_id)
            return custody.decide_decline(unit, reason, contents=self._contents(reads, unit),
                                          actor=actor, now=now)

        return self.command(ctx, decide)

    def pack(self, ctx: Context, *, unit_id: UUID, container_id: UUID) -> R:

        def decide(reads: Reads, now: datetime, actor: str):
            container = reads.unit(container_id)
            return custody.decide_pack(reads.unit(unit_id), container, contents=self._contents(reads, container),
                                       actor=actor, now=now)

        return self.command(ctx, decide)

    def unpack(self, ctx: Context, *, unit_id: UUID, container_id: UUID) -> R:
        return self.command(ctx, lambda r, now, actor: custody.decide_unpack(
            r.unit(unit_id), r.unit(container_id), actor=actor, now=now))

    def dispatch(self, ctx: Context, *, unit_id: UUID, carrier: str, tracking: str, from_site: str,
                 to_site: str) -> R:

        def decide(reads: Reads, now: datetime, actor: str):
            unit = reads.unit(unit_id)
            return custody.decide_dispatch(unit, carrier=carrier, tracking=tracking, from_site=from_site,
                                           to_site=to_site, contents=self._contents(reads, unit),
                                           actor=actor, now=now)

        return self.command(ctx, decide)

    def deliver(self, ctx: Context, *, unit_id: UUID, tracking: str | None = None,
                to_site: str | None = None, condition: str | None = None) -> R:

        def decide(reads: Reads, now: datetime, actor: str):
            unit = reads.unit(unit_id)
            return custody.decide_deliver(unit, tracking=tracking, to_site=to_site, condition=condition,
                                          contents=self._contents(reads, unit), actor=actor, now=now)

        return self.command(ctx, decide)
