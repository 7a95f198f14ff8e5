"""Unit commands: labelling, collection, scans, custody, packing and shipping."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from ..datatypes import Celsius, Text
from ..domain import custody, labelling
from ..domain.case import recorded_refusal
from ..domain.events_case import Reason
from ..domain.events_unit import (
    CustodyAcknowledged,
    CustodyDeclined,
    CustodyTransferred,
    Identifiers,
    MaterialCollected,
    PackedInto,
    ShipmentDelivered,
    ShipmentDispatched,
    UnitKind,
    UnitLabelled,
    UnpackedFrom,
)
from ..domain.exceptions import COI_CRITICAL_PURPOSES
from ..domain.identifiers import issue_unit_label, patient_pseudonym, purpose_key, scan_digest
from ..domain.unit import UnitState
from ..streams import case_stream, unit_stream
from .cases import WithReason, site_secret
from .commands import Data, Ident, Name, Secret, Volume, command
from .executor import Context, Executor, Reads, Step
from .steps import Commands

R = TypeVar("R")
# Steps where a wrong bag or a wrong patient must be stopped, not just noted.


class Spec(Data):
    min_celsius: Celsius | None = Field(None,
        description="lowest allowed temperature (°C); readings below it are an excursion")
    max_celsius: Celsius | None = Field(None,
        description="highest allowed temperature (°C); readings above it are an excursion")
    expiry: AwareDatetime | None = Field(None,
        description="when the unit expires (RFC 3339 with zone); steps dated after it are refused")
    qc_required: list[Name] = Field(default_factory=list, max_length=50,
        description="QC tests that must pass before release")


def spec_json(spec: Spec | None) -> dict[str, Any] | None:
    return spec.model_dump(mode="json", exclude_none=True) if spec else None


class Label(Data):
    kind: UnitKind = Field(description="what the label goes on: a bag, a sample or a container (shipper)")
    spec: Spec | None = Field(None, description="storage limits, expiry and required QC of the unit")
    identifiers: Identifiers = Field(default_factory=dict,
        description="other identifiers printed on it, by kind (din: ISBT 128 DIN, gs1: GS1 element string ...)")
    parents: list[UUID] = Field(default_factory=list, max_length=100, description="units it is made from (unit ids)")
    custodian: Name | None = Field(None, description="who holds it first (default: the caller)")
    product: Text | None = Field(None, description="product name, if it is a product")
    volume_ml: Volume | None = Field(default=None, description="volume in millilitres")

    def arguments(self) -> dict[str, Any]:
        return {**self.model_dump(exclude={"spec"}), "spec": spec_json(self.spec)}


class Collect(Data):
    wristband: Secret = Field(description="the wristband's record number: compared as a pseudonym, never stored")
    material: Name = Field(description="what was collected, e.g. leukapheresis")
    collection_site: Ident = Field(description="where (a registered site id)")
    volume_ml: Volume | None = Field(default=None, description="volume collected in millilitres")
    started_at: AwareDatetime | None = Field(None, description="when the collection started (RFC 3339)")
    ended_at: AwareDatetime | None = Field(None, description="when the collection ended (RFC 3339)")

    def arguments(self) -> dict[str, Any]:
        return {**self.model_dump(exclude={"wristband"}), "wristband_mrn": self.wristband}


class Handover(Data):
    to_party: Ident = Field(description="the user (or party) offered custody; custody moves when they acknowledge")
    location: Ident | None = Field(None, description="where the handover happens (site id)")
    condition: Reason | None = Field(None, description="the condition seen at handover")


class Acknowledge(Data):
    location: Ident | None = Field(None, description="where custody is taken (site id)")
    condition: Reason | None = Field(None, description="the condition seen on receipt")


class Pack(Data):
    container_id: UUID = Field(description="the container (shipper) unit id")


class Dispatch(Data):
    carrier: Name = Field(description="the carrier's name")
    tracking: Name = Field(description="the carrier's tracking number")
    from_site: Ident = Field(description="site shipped from")
    to_site: Ident = Field(description="site shipped to")


class Deliver(Data):
    tracking: Name | None = Field(None, description="the tracking number (must match the dispatch's, if given)")
    to_site: Ident | None = Field(None, description="site delivered to (must match the dispatch's, if given)")
    condition: Reason | None = Field(None, description="the condition seen on delivery")


class UnitService(Commands[R]):
    def __init__(self, executor: Executor, master_secret: bytes,
                 run: Callable[[Step], R] | None = None) -> None:
        super().__init__(executor, run or executor.run)  # type: ignore[arg-type]
        self.master_secret = master_secret

    def state(self, unit_id: UUID) -> UnitState:
        return Reads(self.executor.ledger).unit(unit_id)

    @command(UnitLabelled, target="coi", request=Label)
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

    @command(MaterialCollected, target="unit_id", request=Collect)
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
        expected_unit: UUID | None = None, location: str | None = None, kind: str = "unrecognised",
    ) -> R:
        """Record a scan and its verdict; a mismatch at a COI-critical step is recorded, then
        refused with COI_MISMATCH (the scan and the refusal are both in the trail). ``raw`` is
        recorded only as ``kind`` (the parser's scheme), length and a keyed digest."""
        scanned = {"kind": kind, "length": len(raw),
                   "digest": scan_digest(purpose_key(self.master_secret, "scan"), raw)}

        def decide(reads: Reads, now: datetime, actor: str):
            unit = reads.unit(unit_id) if unit_id is not None else None
            case = reads.case(case_stream(expected_coi)) if expected_coi else None
            events = labelling.decide_scan(
                unit, scanned=scanned, purpose=purpose, parsed=parsed, case=case, expected_coi=expected_coi,
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

    @command(CustodyTransferred, target="unit_id", request=Handover)
    def handover(self, ctx: Context, *, unit_id: UUID, to_party: str, location: str | None = None,
                 condition: str | None = None) -> R:

        def decide(reads: Reads, now: datetime, actor: str):
            unit = reads.unit(unit_id)
            return custody.decide_handover(unit, to_party, contents=self._contents(reads, unit),
                                           location=location, condition=condition, actor=actor, now=now)

        return self.command(ctx, decide)

    @command(CustodyAcknowledged, target="unit_id", request=Acknowledge)
    def acknowledge(self, ctx: Context, *, unit_id: UUID, location: str | None = None,
                    condition: str | None = None) -> R:

        def decide(reads: Reads, now: datetime, actor: str):
            unit = reads.unit(unit_id)
            return custody.decide_acknowledge(unit, contents=self._contents(reads, unit), location=location,
                                              condition=condition, actor=actor, now=now)

        return self.command(ctx, decide)

    @command(CustodyDeclined, target="unit_id", request=WithReason)
    def decline(self, ctx: Context, *, unit_id: UUID, reason: str) -> R:

        def decide(reads: Reads, now: datetime, actor: str):
            unit = reads.unit(unit_id)
            return custody.decide_decline(unit, reason, contents=self._contents(reads, unit),
                                          actor=actor, now=now)

        return self.command(ctx, decide)

    @command(PackedInto, target="unit_id", request=Pack)
    def pack(self, ctx: Context, *, unit_id: UUID, container_id: UUID) -> R:

        def decide(reads: Reads, now: datetime, actor: str):
            container = reads.unit(container_id)
            return custody.decide_pack(reads.unit(unit_id), container, contents=self._contents(reads, container),
                                       actor=actor, now=now)

        return self.command(ctx, decide)

    @command(UnpackedFrom, target="unit_id", request=Pack)
    def unpack(self, ctx: Context, *, unit_id: UUID, container_id: UUID) -> R:
        return self.command(ctx, lambda r, now, actor: custody.decide_unpack(
            r.unit(unit_id), r.unit(container_id), actor=actor, now=now))

    @command(ShipmentDispatched, target="unit_id", request=Dispatch)
    def dispatch(self, ctx: Context, *, unit_id: UUID, carrier: str, tracking: str, from_site: str,
                 to_site: str) -> R:

        def decide(reads: Reads, now: datetime, actor: str):
            unit = reads.unit(unit_id)
            return custody.decide_dispatch(unit, carrier=carrier, tracking=tracking, from_site=from_site,
                                           to_site=to_site, contents=self._contents(reads, unit),
                                           actor=actor, now=now)

        return self.command(ctx, decide)

    @command(ShipmentDelivered, target="unit_id", request=Deliver)
    def deliver(self, ctx: Context, *, unit_id: UUID, tracking: str | None = None,
                to_site: str | None = None, condition: str | None = None) -> R:

        def decide(reads: Reads, now: datetime, actor: str):
            unit = reads.unit(unit_id)
            return custody.decide_deliver(unit, tracking=tracking, to_site=to_site, condition=condition,
                                          contents=self._contents(reads, unit), actor=actor, now=now)

        return self.command(ctx, decide)
