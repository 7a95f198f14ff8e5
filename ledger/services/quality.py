"""Conditions, manufacturing, quality, release, infusion and corrections."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from ..datatypes import Celsius, Decimal2, Identifier, Text
from ..domain import conditions, corrections, infusion, lots, manufacturing
from ..domain import release as release_rules
from ..domain import witness as witnessing
from ..domain.events_case import CorrectionApproved, CorrectionRejected, EventCorrected, Reason
from ..domain.events_quality import (
    MAX_READINGS,
    ExcursionAssessed,
    ManufacturingStarted,
    ManufacturingStepRecorded,
    ProductFilled,
    ProductInfused,
    ProductReleased,
    QCResultRecorded,
    TemperatureRecorded,
    UnitDisposed,
    UnitQuarantined,
    UnitReleasedFromQuarantine,
    UnitsDerived,
)
from ..domain.events_release import EventHash, ReviewedExceptionId, ReviewSignedOff
from ..domain.events_unit import Identifiers
from ..domain.events_witness import StepWitnessed
from ..domain.identifiers import patient_pseudonym
from ..domain.manufacturing import DerivedOutput
from ..domain.product_spec import ProductSpecState, SpecVersion, fold_product_spec, pinned_lot
from ..domain.unit import UnitState
from ..domain.witness import DEFAULT_WITNESS, WitnessPolicy
from ..streams import case_stream, lot_stream, product_stream
from . import release
from .cases import WithReason, site_secret
from .commands import Data, Ident, Name, Secret, Volume, command
from .executor import Context, Executor, Reads, SignOff, Step
from .steps import Commands
from .units import Spec, spec_json

R = TypeVar("R")


class Reading(Data):
    t: AwareDatetime = Field(description="when the reading was taken (RFC 3339 with zone)")
    celsius: Celsius = Field(description="the temperature in °C (at most two decimals)")


Readings = Annotated[list[Reading], Field(min_length=1, max_length=MAX_READINGS)]


class Temperatures(Data):
    logger: Ident = Field(description="the data logger's id")
    readings: Readings = Field(description="the logger's readings, in time order")

    def arguments(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Assess(Data):
    excursion_id: UUID = Field(description="the excursion (from the unit's state or conditions)")
    decision: Literal["use", "discard"] = Field(description="use the unit despite the excursion, or discard it")
    rationale: Reason = Field(description="why (Part 11: shown with the signature)")


class Output(Data):
    kind: Literal["cryobag", "final_product_bag", "sample"] = Field(
        description="what is made: cryobag, final_product_bag or sample (a QC sample)")
    spec: Spec | None = Field(None, description="storage limits, expiry and required QC of the output")
    identifiers: Identifiers = Field(default_factory=dict, description="other identifiers printed on it, by kind")
    product: Text | None = Field(None, description="product name")
    volume_ml: Volume | None = Field(default=None, description="volume in millilitres")


def outputs_json(outputs: list[Output]) -> list[dict[str, Any]]:
    return [{**o.model_dump(exclude={"spec"}), "spec": spec_json(o.spec)} for o in outputs]


class Derive(Data):
    inputs: list[UUID] = Field(min_length=1, max_length=100, description="the units processed (unit ids)")
    outputs: list[Output] = Field(min_length=1, max_length=100, description="the units made: each gets a new label")
    process: Name = Field(description="the manufacturing process")
    batch: Name | None = Field(None, description="the lot or batch number")
    consumed: bool = Field(True,
        description="whether the inputs are used up (false: a sample is taken and the input goes on)")

    def arguments(self) -> dict[str, Any]:
        return {**self.model_dump(exclude={"outputs"}), "outputs": outputs_json(self.outputs)}


LotNumber = Annotated[Identifier, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/+-]*$",
                                        description="the manufacturer's lot (batch) number, unique within the case")]


class StartManufacturing(Data):
    lot: LotNumber = Field(description="the manufacturing lot (batch) number, unique within the case")
    inputs: list[UUID] = Field(min_length=1, max_length=100, description=(
        "the units consumed (apheresis bags ...): each must be within its expiry now"))
    process: Name = Field(description="the manufacturing process, e.g. transduction-expansion")


class ManufacturingStep(Data):
    lot: LotNumber = Field(description="the lot, opened by ManufacturingStarted")
    stage: Name = Field(description="the process step, e.g. activation, transduction, expansion, harvest")
    notes: Reason | None = Field(None, description="free-text notes on the step (no patient data)")


class Fill(Data):
    lot: LotNumber = Field(description="the lot, opened by ManufacturingStarted")
    outputs: list[Output] = Field(min_length=1, max_length=100, description=(
        "the final product units, labelled now with the lot as their parent"))

    def arguments(self) -> dict[str, Any]:
        return {"lot": self.lot, "outputs": outputs_json(self.outputs)}


class QC(Data):
    test: Name = Field(description="the QC test's name (e.g. sterility)")
    result: Literal["pass", "fail"] = Field(description="pass or fail")
    value: Decimal2 | Text | None = Field(None, description="the measured value, if any (at most two decimals)")
    uom: Name | None = Field(None, description="unit of measure of value")
    method: Text | None = Field(None, description="the test method")
    sample_id: UUID | None = Field(None, description="the sample unit tested, if any")


class Release(Data):
    notes: Reason | None = Field(None, description="release notes (shown with the QA signature)")


class Reviewed(Data):
    exception_id: ReviewedExceptionId = Field(description="the exception's id (`<kind>:<opening event id>`)")
    event_hash: EventHash = Field(description="the hash of the event that opened it, as shown to QA")
    state: Literal["open", "dispositioned"] = Field(description="its state as shown to QA")
    classification: Literal["no_impact", "deviation", "product_impact"] | None = Field(
        None, description="its disposition's classification, if dispositioned")


class ReviewSignOff(Data):
    exceptions: list[Reviewed] = Field(max_length=1000, description=(
        "every exception of the case's family as QA reviewed it: exactly the release summary's "
        "`review.sign_off_list` (refused REVIEW_LIST_STALE if it is not the family's now)"))
    lot: LotNumber | None = Field(None, description="the lot the review is for, if any")
    comment: Reason | None = Field(None, description="QA's findings (shown with the signature)")

    def arguments(self) -> dict[str, Any]:
        return {**self.model_dump(exclude={"exceptions"}),
                "exceptions": [e.model_dump() for e in self.exceptions]}


class Infuse(Data):
    coi: Name = Field(description="the patient case's COI id (the patient being infused)")
    wristband: Secret = Field(description="the wristband's record number: compared as a pseudonym, never stored")
    bag_coi: Name = Field(
        description=("the COI id printed on the bag: the patient's own for autologous, the donor case's for an "
                     "allocated allogeneic dose"))
    infused_at: AwareDatetime | None = Field(None,
        description="when the infusion started (RFC 3339); default: occurred_at")

    def arguments(self) -> dict[str, Any]:
        return {**self.model_dump(exclude={"wristband"}), "wristband_mrn": self.wristband}


class Dispose(Data):
    reason: Reason = Field(description="why it is disposed of")
    method: Name | None = Field(None, description="how, e.g. incineration")


class Correct(Data):
    event_id: UUID = Field(description="the event being corrected (it stays; the correction is a new event)")
    reason: Text = Field(description="why the correction is made")
    changes: dict[str, Any] = Field(min_length=1, max_length=50,
        description="field -> new value, for the corrected event's data")

    def arguments(self) -> dict[str, Any]:
        return {**self.model_dump(), "event_id": str(self.event_id)}


class ApproveCorrection(Data):
    correction_event_id: UUID = Field(description="the pending EventCorrected (in the exceptions list)")
    comment: Reason | None = Field(None, description="QA's comment (shown with the signature)")

    def arguments(self) -> dict[str, Any]:
        return {**self.model_dump(), "correction_event_id": str(self.correction_event_id)}


class Witness(Data):
    witnessed_event_id: UUID = Field(description=(
        "the step witnessed: a UnitLabelled or ProductInfused of this unit due a witness (`witness_due`)"))
    comment: Reason | None = Field(None, description="the witness's comment (shown with the signature)")

    def arguments(self) -> dict[str, Any]:
        return {**self.model_dump(), "witnessed_event_id": str(self.witnessed_event_id)}


class RejectCorrection(Data):
    correction_event_id: UUID = Field(description="the pending EventCorrected (in the exceptions list)")
    reason: Reason = Field(description="why the correction is rejected (shown with the signature)")

    def arguments(self) -> dict[str, Any]:
        return {**self.model_dump(), "correction_event_id": str(self.correction_event_id)}


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


def product_spec(reads: Reads, product: str | None) -> ProductSpecState:
    """A product's specifications (an empty state for none, or no product)."""
    return fold_product_spec(reads.envelopes(product_stream(product))) if product else ProductSpecState()


def lot_spec(reads: Reads, lot: UnitState | None) -> SpecVersion | None:
    """The specification version pinned to ``lot`` (None: no lot, or none pinned)."""
    if lot is None or lot.spec_version is None or lot.case is None:
        return None
    return product_spec(reads, reads.case(lot.case).product).get(lot.spec_version)


def pinned_spec(reads: Reads, unit: UnitState) -> SpecVersion | None:
    """The product specification version pinned to the lot ``unit`` is (or descends from)."""
    if unit.version == 0:
        return None
    return lot_spec(reads, pinned_lot([unit, *lineage(reads, unit)]))


class QualityService(Commands[R]):
    def __init__(self, executor: Executor, master_secret: bytes,
                 run: Callable[[Step], R] | None = None, *, witness: WitnessPolicy = DEFAULT_WITNESS) -> None:
        super().__init__(executor, run or executor.run)  # type: ignore[arg-type]
        self.master_secret = master_secret
        self.witness = witness  # LEDGER_WITNESS_STEPS / _MINUTES: does the bedside need a second person?

    @command(TemperatureRecorded, target="unit_id", request=Temperatures)
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

    @command(ExcursionAssessed, target="unit_id", request=Assess)
    def assess_excursion(self, ctx: Context, *, unit_id: UUID, excursion_id: UUID, decision: str,
                         rationale: str, signoff: SignOff | None) -> R:
        return self.command(ctx, lambda r, now, actor: conditions.decide_assess_excursion(
            r.unit(unit_id), excursion_id, decision, rationale,
            esign=signoff.manifestation if signoff else None, signer=signoff.signer if signoff else None,
            actor=actor, now=now), signoff=signoff)

    @command(UnitsDerived, target="coi", request=Derive)
    def derive(self, ctx: Context, *, coi: str, inputs: Sequence[UUID], outputs: Sequence[Mapping[str, Any]],
               process: str, batch: str | None = None, consumed: bool = True,
               labels: Sequence[str] | None = None) -> R:
        """Manufacturing: ``outputs`` are {kind, spec?, identifiers?, product?, volume_ml?};
        each gets a new label (issued here unless ``labels`` were planned) and unit id."""
        made = manufacturing.labelled_outputs(outputs, labels)

        def decide(reads: Reads, now: datetime, actor: str):
            for output in made:
                reads.unit(output.unit_id)  # new streams: append at version 0
            return manufacturing.decide_derive(
                reads.case(case_stream(coi)), reads.units(list(inputs)), made, process=process,
                batch=batch, consumed=consumed, actor=actor, now=now)

        return self.command(ctx, decide, at_event_time=True, answer=lambda _: {"outputs": _answer(made)})

    @command(ManufacturingStarted, target="coi", request=StartManufacturing)
    def start_manufacturing(self, ctx: Context, *, coi: str, lot: str, inputs: Sequence[UUID],
                            process: str) -> R:
        """Open ``lot`` for the case at the context's (manufacturing) site, consuming ``inputs``."""
        lot_id = lot_stream(coi, lot)

        def decide(reads: Reads, now: datetime, actor: str):
            case = reads.case(case_stream(coi))
            return lots.decide_start(
                case, reads.unit(lot_id), reads.units(list(inputs)),
                lot_id=lot_id, lot_number=lot, process=process,
                site=reads.site(ctx.site) if ctx.site else None, actor=actor, now=now,
                spec=product_spec(reads, case.product))

        return self.command(ctx, decide, at_event_time=True,
                            answer=lambda _: {"lot_id": str(lot_id), "lot": lot})

    @command(ManufacturingStepRecorded, target="coi", request=ManufacturingStep)
    def record_step(self, ctx: Context, *, coi: str, lot: str, stage: str,
                    notes: str | None = None) -> R:
        return self.command(ctx, lambda r, now, actor: lots.decide_step(
            r.case(case_stream(coi)), r.unit(lot_stream(coi, lot)), lot_number=lot, stage=stage,
            notes=notes, site=ctx.site, actor=actor, now=now))

    @command(ProductFilled, target="coi", request=Fill)
    def fill(self, ctx: Context, *, coi: str, lot: str, outputs: Sequence[Mapping[str, Any]],
             labels: Sequence[str] | None = None) -> R:
        """Fill/cryopreserve ``lot`` into ``outputs`` (as for :meth:`derive`), labelled now."""
        made = manufacturing.labelled_outputs(outputs, labels)

        def decide(reads: Reads, now: datetime, actor: str):
            for output in made:
                reads.unit(output.unit_id)  # new streams: append at version 0
            state = reads.unit(lot_stream(coi, lot))
            return lots.decide_fill(reads.case(case_stream(coi)), state, made, lot_number=lot, site=ctx.site,
                                    actor=actor, now=now, spec=lot_spec(reads, state))

        # at the fill's time: a shelf life counts from when the fill happened
        return self.command(ctx, decide, at_event_time=True, answer=lambda _: {
            "lot_id": str(lot_stream(coi, lot)), "outputs": _answer(made)})

    @command(QCResultRecorded, target="unit_id", request=QC)
    def record_qc(self, ctx: Context, *, unit_id: UUID, test: str, result: str, value: Any = None,
                  uom: str | None = None, method: str | None = None,
                  sample_id: UUID | None = None) -> R:
        def decide(reads: Reads, now: datetime, actor: str):
            unit = reads.unit(unit_id)
            return manufacturing.decide_record_qc(
                unit, test=test, result=result, value=value, uom=uom, method=method,
                sample=reads.unit(sample_id) if sample_id else None, actor=actor, now=now,
                spec=pinned_spec(reads, unit))

        return self.command(ctx, decide)

    @command(ProductReleased, target="unit_id", request=Release)
    def release(self, ctx: Context, *, unit_id: UUID, notes: str | None, signoff: SignOff | None) -> R:
        def decide(reads: Reads, now: datetime, actor: str):
            unit = reads.unit(unit_id)
            case = reads.case(unit.case) if unit.case else reads.case(unit_id)
            ancestors = lineage(reads, unit)
            return manufacturing.decide_release(
                unit, case=case, ancestors=ancestors, notes=notes,
                review=release.release_review(reads, unit, ancestors, self.clock()),
                esign=signoff.manifestation if signoff else None, signer=signoff.signer if signoff else None,
                actor=actor, now=now, spec=pinned_spec(reads, unit))

        return self.command(ctx, decide, at_event_time=True, signoff=signoff)

    @command(ReviewSignedOff, target="coi", request=ReviewSignOff)
    def sign_off_review(self, ctx: Context, *, coi: str, exceptions: Sequence[Mapping[str, Any]],
                        signoff: SignOff | None, lot: str | None = None, comment: str | None = None) -> R:
        """QA's e-signed review sign-off of the case's family (``ledger.domain.release``)."""

        def decide(reads: Reads, now: datetime, actor: str):
            case = reads.case(case_stream(coi))
            found, results = {}, []
            if case.stream is not None and case.coi is not None:
                family = release.case_family(reads, case, self.executor.case_units, lot)
                found = release.family_exceptions(reads, family, now)
                results = [{k: r[k] for k in release.SIGNED_SPEC_FIELDS} for r in release.spec_results(reads, family)]
            return release_rules.decide_sign_off(
                case, found, exceptions, spec_results=results, lot=lot,
                comment=comment, esign=signoff.manifestation if signoff else None,
                signer=signoff.signer if signoff else None, actor=actor, now=now)

        return self.command(ctx, decide, signoff=signoff)

    @command(ProductInfused, target="unit_id", request=Infuse)
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
                infused_at=infused_at, witness=self.witness, actor=actor, now=now)

        return self.command(ctx, decide, at_event_time=True, signoff=signoff)

    @command(StepWitnessed, target="unit_id", request=Witness)
    def witness_step(self, ctx: Context, *, unit_id: UUID, witnessed_event_id: str, signoff: SignOff | None,
                     comment: str | None = None) -> R:
        """A second person's e-signed witness of the identity check of a labelling or infusion
        (``ledger.domain.witness``), judged at the server's time."""
        return self.command(ctx, lambda r, now, actor: witnessing.decide_witness(
            r.envelopes(unit_id), witnessed_event_id, comment,
            esign=signoff.manifestation if signoff else None, signer=signoff.signer if signoff else None,
            actor=actor, now=now), signoff=signoff)

    @command(UnitQuarantined, target="unit_id", request=WithReason)
    def quarantine(self, ctx: Context, *, unit_id: UUID, reason: str) -> R:
        return self.command(ctx, lambda r, now, actor: manufacturing.decide_quarantine(
            r.unit(unit_id), reason, actor=actor, now=now))

    @command(UnitReleasedFromQuarantine, target="unit_id", request=WithReason)
    def lift_quarantine(self, ctx: Context, *, unit_id: UUID, reason: str) -> R:
        return self.command(ctx, lambda r, now, actor: manufacturing.decide_release_from_quarantine(
            r.unit(unit_id), reason, actor=actor, now=now))

    @command(UnitDisposed, target="unit_id", request=Dispose)
    def dispose(self, ctx: Context, *, unit_id: UUID, reason: str, method: str | None = None) -> R:
        return self.command(ctx, lambda r, now, actor: manufacturing.decide_dispose(
            r.unit(unit_id), reason, method=method, actor=actor, now=now))

    @command(EventCorrected, target="stream", request=Correct)
    def correct(self, ctx: Context, *, stream: UUID, event_id: str, reason: str,
                changes: Mapping[str, Any]) -> R:
        return self.command(ctx, lambda r, now, actor: corrections.decide_correct(
            r.envelopes(stream), event_id, reason, changes, roles=r.user(actor).roles, actor=actor, now=now))

    @command(CorrectionApproved, target="stream", request=ApproveCorrection)
    def approve_correction(self, ctx: Context, *, stream: UUID, correction_event_id: str, signoff: SignOff | None,
                           comment: str | None = None) -> R:
        """A second person's e-signed approval: the pending correction takes effect from now."""
        return self.command(ctx, lambda r, now, actor: corrections.decide_approve_correction(
            r.envelopes(stream), correction_event_id, comment,
            esign=signoff.manifestation if signoff else None, signer=signoff.signer if signoff else None,
            actor=actor, now=now), signoff=signoff)

    @command(CorrectionRejected, target="stream", request=RejectCorrection)
    def reject_correction(self, ctx: Context, *, stream: UUID, correction_event_id: str, reason: str,
                          signoff: SignOff | None) -> R:
        """The pending correction never takes effect."""
        return self.command(ctx, lambda r, now, actor: corrections.decide_reject_correction(
            r.envelopes(stream), correction_event_id, reason,
            esign=signoff.manifestation if signoff else None, signer=signoff.signer if signoff else None,
            actor=actor, now=now), signoff=signoff)


def _answer(made: Sequence[DerivedOutput]) -> list[dict[str, str]]:
    return [{"unit_id": str(o.unit_id), "label": o.label} for o in made]
