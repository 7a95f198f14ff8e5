"""Conditions, manufacturing, quality, release, infusion and corrections."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from ..domain import conditions, corrections, infusion, lots, manufacturing
from ..domain.identifiers import issue_unit_label, patient_pseudonym
from ..domain.manufacturing import DerivedOutput
from ..domain.unit import UnitState
from ..streams import case_stream, lot_stream, unit_stream
from .cases import site_secret
from .executor import Context, Executor, Reads, SignOff, Step
from .steps import Commands

R = TypeVar("R")


def lineage(reads: Reads, unit: UnitState) -> list[UnitState]:
    """Every ancestor of ``unit`` (parents, their parents ...), each once."""
    seen: dict[UUID, UnitState] = {}
    todo = list(unit.parents)
    while todo:
        stream = todo.pop()
        if stream in seen:
            continue
        seen[stream] = reads.unit(stream)
        todo.extend(seen[stream].parents)
    return list(seen.values())


class QualityService(Commands[R]):
    def __init__(self, executor: Executor, master_secret: bytes,
                 run: Callable[[Step], R] | None = None) -> None:
        super().__init__(executor, run or executor.run)  # type: ignore[arg-type]
        self.master_secret = master_secret

    def record_temperatures(self, ctx: Context, *, unit_id: UUID, logger: str,
                            readings: Sequence[Mapping[str, Any]]) -> R:
        """The answer reports what the upload did (``conditions.record_temperatures``): readings
        recorded, applied and not applied per unit, excursions detected and opened."""
        report: dict[str, Any] = {}

        def decide(reads: Reads, now: datetime, actor: str):
            unit = reads.unit(unit_id)
            contents = reads.units(list(dict.fromkeys(s.other for s in unit.stays)))
            events, report["last"] = conditions.record_temperatures(
                unit, logger=logger, readings=readings, contents=contents, actor=actor, now=now)
            return events

        return self.command(ctx, decide, answer=lambda _: report["last"])

    def assess_excursion(self, ctx: Context, *, unit_id: UUID, excursion_id: UUID, decision: str,
                         rationale: str, signoff: SignOff | None) -> R:
        return self.command(ctx, lambda r, now, actor: conditions.decide_assess_excursion(
            r.unit(unit_id), excursion_id, decision, rationale,
            esign=signoff.manifestation if signoff else None, signer=signoff.signer if signoff else None,
            actor=actor, now=now), signoff=signoff)

    def derive(self, ctx: Context, *, coi: str, inputs: Sequence[UUID], outputs: Sequence[Mapping[str, Any]],
               process: str, batch: str | None = None, consumed: bool = True,
               labels: Sequence[str] | None = None) -> R:
        """Manufacturing: ``outputs`` are {kind, spec?, identifiers?, product?, volume_ml?};
        each gets a new label (issued here unless ``labels`` were planned) and unit id."""
        labels = list(labels) if labels is not None else [issue_unit_label() for _ in outputs]
        if len(labels) != len(outputs):
            raise ValueError("one planned label per output")
        made = [DerivedOutput(unit_id=unit_stream(label), label=label, **spec)
                for label, spec in zip(labels, outputs, strict=True)]

        def decide(reads: Reads, now: datetime, actor: str):
            for output in made:
                reads.unit(output.unit_id)  # new streams: append at version 0
            return manufacturing.decide_derive(
                reads.case(case_stream(coi)), reads.units(list(inputs)), made, process=process,
                batch=batch, consumed=consumed, actor=actor, now=now)

        return self.command(ctx, decide, at_event_time=True, answer=lambda _: {
            "outputs": [{"unit_id": str(o.unit_id), "label": o.label} for o in made]})

    def start_manufacturing(self, ctx: Context, *, coi: str, lot: str, inputs: Sequence[UUID],
                            process: str) -> R:
        """Open ``lot`` for the case at the context's (manufacturing) site, consuming ``inputs``."""
        lot_id = lot_stream(coi, lot)

        def decide(reads: Reads, now: datetime, actor: str):
            return lots.decide_start(
                reads.case(case_stream(coi)), reads.unit(lot_id), reads.units(list(inputs)),
                lot_id=lot_id, lot_number=lot, process=process,
                site=reads.site(ctx.site) if ctx.site else None, actor=actor, now=now)

        return self.command(ctx, decide, at_event_time=True,
                            answer=lambda _: {"lot_id": str(lot_id), "lot": lot})

    def record_step(self, ctx: Context, *, coi: str, lot: str, stage: str,
                    notes: str | None = None) -> R:
        return self.command(ctx, lambda r, now, actor: lots.decide_step(
            r.case(case_stream(coi)), r.unit(lot_stream(coi, lot)), lot_number=lot, stage=stage,
            notes=notes, site=ctx.site, actor=actor, now=now))

    def fill(self, ctx: Context, *, coi: str, lot: str, outputs: Sequence[Mapping[str, Any]],
             labels: Sequence[str] | None = None) -> R:
        """Fill/cryopreserve ``lot`` into ``outputs`` (as for :meth:`derive`), labelled now."""
        labels = list(labels) if labels is not None else [issue_unit_label() for _ in outputs]
        if len(labels) != len(outputs):
            raise ValueError("one planned label per output")
        made = [DerivedOutput(unit_id=unit_stream(label), label=label, **spec)
                for label, spec in zip(labels, outputs, strict=True)]

        def decide(reads: Reads, now: datetime, actor: str):
            for output in made:
                reads.unit(output.unit_id)  # new streams: append at version 0
            return lots.decide_fill(reads.case(case_stream(coi)), reads.unit(lot_stream(coi, lot)),
                                    made, lot_number=lot, site=ctx.site, actor=actor, now=now)

        return self.command(ctx, decide, answer=lambda _: {
            "lot_id": str(lot_stream(coi, lot)),
            "outputs": [{"unit_id": str(o.unit_id), "label": o.label} for o in made]})

    def record_qc(self, ctx: Context, *, unit_id: UUID, test: str, result: str, value: Any = None,
                  uom: str | None = None, method: str | None = None,
                  sample_id: UUID | None = None) -> R:
        return self.command(ctx, lambda r, now, actor: manufacturing.decide_record_qc(
            r.unit(unit_id), test=test, result=result, value=value, uom=uom, method=method,
            sample=r.unit(sample_id) if sample_id else None, actor=actor, now=now))

    def release(self, ctx: Context, *, unit_id: UUID, notes: str | None, signoff: SignOff | None) -> R:
        def decide(reads: Reads, now: datetime, actor: str):
            unit = reads.unit(unit_id)
            case = reads.case(unit.case) if unit.case else reads.case(unit_id)
            return manufacturing.decide_release(
                unit, case=case, ancestors=lineage(reads, unit), notes=notes,
                esign=signoff.manifestation if signoff else None, signer=signoff.signer if signoff else None,
                actor=actor, now=now)

        return self.command(ctx, decide, at_event_time=True, signoff=signoff)

    def infuse(self, ctx: Context, *, unit_id: UUID, coi: str, wristband_mrn: str, bag_coi: str,
               signoff: SignOff | None, infused_at: datetime | None = None) -> R:
        """Bedside verification: the wristband's pseudonym and the bag's COI must match the case."""

        def decide(reads: Reads, event_time: datetime, actor: str):
            now = infused_at or event_time
            case = reads.case(case_stream(coi))
            ref = patient_pseudonym(site_secret(self.master_secret, case.site or ""), wristband_mrn)
            return infusion.decide_infuse(
                case, reads.unit(unit_id), wristband_patient_ref=ref, bag_coi=bag_coi,
                esign=signoff.manifestation if signoff else None, signer=signoff.signer if signoff else None,
                infused_at=infused_at, actor=actor, now=now)

        return self.command(ctx, decide, at_event_time=True, signoff=signoff)

    def quarantine(self, ctx: Context, *, unit_id: UUID, reason: str) -> R:
        return self.command(ctx, lambda r, now, actor: manufacturing.decide_quarantine(
            r.unit(unit_id), reason, actor=actor, now=now))

    def lift_quarantine(self, ctx: Context, *, unit_id: UUID, reason: str) -> R:
        return self.command(ctx, lambda r, now, actor: manufacturing.decide_release_from_quarantine(
            r.unit(unit_id), reason, actor=actor, now=now))

    def dispose(self, ctx: Context, *, unit_id: UUID, reason: str, method: str | None = None) -> R:
        return self.command(ctx, lambda r, now, actor: manufacturing.decide_dispose(
            r.unit(unit_id), reason, method=method, actor=actor, now=now))

    def correct(self, ctx: Context, *, stream: UUID, event_id: str, reason: str,
                changes: Mapping[str, Any]) -> R:
        return self.command(ctx, lambda r, now, actor: corrections.decide_correct(
            r.envelopes(stream), event_id, reason, changes, actor=actor, now=now))
