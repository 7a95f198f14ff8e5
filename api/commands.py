"""Every domain event a client may submit, as a typed command (``POST /v1/events``).

Each command names its target (``coi``, ``unit_id`` or ``stream``) and its ``data``; the
request models form a discriminated union on ``type``, so ``/openapi.json`` documents every
event's fields. Patient identifiers (``mrn``, ``wristband``) are accepted only where a
pseudonym must be computed, and are never stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model

from ledger.errors import InvalidEvent
from ledger.services import Outcome, Services, SignOff
from ledger.services.executor import Context

Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
Ident = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$",
                             description="an identifier: user, device, site, party, GLN ...")]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]
Secret = Annotated[str, Field(min_length=1, max_length=256)]


class Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Enrol(Data):
    kind: Literal["autologous", "allogeneic"]
    product: Name
    treating_site: Ident
    mrn: Secret = Field(description="patient record number: pseudonymised on arrival, never stored")
    collection_site: Ident | None = None
    protocol: Name | None = None


class Donor(Data):
    product: Name
    collection_site: Ident
    donor_id: Secret = Field(description="donor identifier: pseudonymised on arrival, never stored")
    din: Name | None = None


class WithReason(Data):
    reason: Reason


class Allocate(Data):
    donor_coi: Name
    unit_id: UUID


class Spec(Data):
    min_celsius: float | None = None
    max_celsius: float | None = None
    expiry: AwareDatetime | None = None
    qc_required: list[Name] = Field(default_factory=list, max_length=50)


class Label(Data):
    kind: Literal["apheresis_bag", "sample", "cryobag", "final_product_bag", "shipper", "container"]
    spec: Spec | None = None
    identifiers: dict[Name, Name] = Field(default_factory=dict, max_length=20)
    parents: list[UUID] = Field(default_factory=list, max_length=100)
    custodian: Name | None = None
    product: Name | None = None
    volume_ml: float | None = Field(default=None, ge=0)


class Collect(Data):
    wristband: Secret = Field(description="the wristband's record number: compared as a pseudonym, never stored")
    material: Name
    collection_site: Ident
    volume_ml: float | None = Field(default=None, ge=0)
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None


class Handover(Data):
    to_party: Ident
    location: Ident | None = None
    condition: Reason | None = None


class Acknowledge(Data):
    location: Ident | None = None
    condition: Reason | None = None


class Pack(Data):
    container_id: UUID


class Dispatch(Data):
    carrier: Name
    tracking: Name
    from_site: Ident
    to_site: Ident


class Deliver(Data):
    tracking: Name | None = None
    to_site: Ident | None = None
    condition: Reason | None = None


class Reading(Data):
    t: AwareDatetime
    celsius: float


class Temperatures(Data):
    logger: Ident
    readings: list[Reading] = Field(min_length=1, max_length=20000)


class Assess(Data):
    excursion_id: UUID
    decision: Literal["use", "discard"]
    rationale: Reason


class Output(Data):
    kind: Literal["cryobag", "final_product_bag", "sample"]
    spec: Spec | None = None
    identifiers: dict[Name, Name] = Field(default_factory=dict, max_length=20)
    product: Name | None = None
    volume_ml: float | None = Field(default=None, ge=0)


class Derive(Data):
    inputs: list[UUID] = Field(min_length=1, max_length=100)
    outputs: list[Output] = Field(min_length=1, max_length=100)
    process: Name
    batch: Name | None = None
    consumed: bool = True


class QC(Data):
    test: Name
    result: Literal["pass", "fail"]
    value: float | str | None = None
    uom: Name | None = None
    method: Name | None = None
    sample_id: UUID | None = None


class Release(Data):
    notes: Reason | None = None


class Infuse(Data):
    coi: Name
    wristband: Secret = Field(description="the wristband's record number: compared as a pseudonym, never stored")
    bag_coi: Name
    infused_at: AwareDatetime | None = None


class Dispose(Data):
    reason: Reason
    method: Name | None = None


class Correct(Data):
    event_id: UUID
    reason: str = Field(max_length=2000)
    changes: dict[str, Any] = Field(min_length=1, max_length=50)


def _spec(spec: Spec | None) -> dict[str, Any] | None:
    return spec.model_dump(mode="json", exclude_none=True) if spec else None


Handler = Callable[[Services, Context, Any, Any, SignOff | None], Outcome]


@dataclass(frozen=True)
class Command:
    type: str
    target: Literal["none", "coi", "unit_id", "stream"]
    data: type[Data]
    handle: Handler
    meaning: str | None = None  # the Part 11 meaning this step requires
    site_field: str | None = None  # the data field naming where the event happens (its site)

    def site(self, data: Any, given: str | None) -> str | None:
        """The event's site: ``site_field``'s value when the command has one (a ``site`` given
        must agree), else the request's ``site``. Both enrolment routes decide it here."""
        where = getattr(data, self.site_field) if self.site_field else None
        if where is None:
            return given
        if given is not None and given != where:
            raise InvalidEvent(f"a {self.type} is recorded at its {self.site_field} {where!r}, not {given!r}",
                               code="SITE_MISMATCH")
        return where


COMMANDS: dict[str, Command] = {c.type: c for c in [
    Command("CaseEnrolled", "none", Enrol, lambda s, c, t, d, _: s.cases.enrol(c, **d.model_dump()),
            site_field="treating_site"),
    Command("DonorRegistered", "none", Donor, lambda s, c, t, d, _: s.cases.register_donor(c, **d.model_dump())),
    Command("CaseOnHold", "coi", WithReason, lambda s, c, t, d, _: s.cases.hold(c, t, d.reason)),
    Command("CaseResumed", "coi", WithReason, lambda s, c, t, d, _: s.cases.resume(c, t, d.reason)),
    Command("CaseCancelled", "coi", WithReason, lambda s, c, t, d, _: s.cases.cancel(c, t, d.reason)),
    Command("ProductAllocated", "coi", Allocate, lambda s, c, t, d, _: s.cases.allocate(
        c, patient_coi=t, donor_coi=d.donor_coi, unit_id=d.unit_id)),
    Command("UnitLabelled", "coi", Label, lambda s, c, t, d, _: s.units.label(
        c, coi=t, **{**d.model_dump(exclude={"spec"}), "spec": _spec(d.spec)})),
    Command("MaterialCollected", "unit_id", Collect, lambda s, c, t, d, _: s.units.collect(
        c, unit_id=t, wristband_mrn=d.wristband, **d.model_dump(exclude={"wristband"}))),
    Command("CustodyTransferred", "unit_id", Handover, lambda s, c, t, d, _: s.units.handover(
        c, unit_id=t, **d.model_dump())),
    Command("CustodyAcknowledged", "unit_id", Acknowledge, lambda s, c, t, d, _: s.units.acknowledge(
        c, unit_id=t, **d.model_dump())),
    Command("CustodyDeclined", "unit_id", WithReason, lambda s, c, t, d, _: s.units.decline(
        c, unit_id=t, reason=d.reason)),
    Command("PackedInto", "unit_id", Pack, lambda s, c, t, d, _: s.units.pack(c, unit_id=t, **d.model_dump())),
    Command("UnpackedFrom", "unit_id", Pack, lambda s, c, t, d, _: s.units.unpack(c, unit_id=t, **d.model_dump())),
    Command("ShipmentDispatched", "unit_id", Dispatch, lambda s, c, t, d, _: s.units.dispatch(
        c, unit_id=t, **d.model_dump())),
    Command("ShipmentDelivered", "unit_id", Deliver, lambda s, c, t, d, _: s.units.deliver(
        c, unit_id=t, **d.model_dump())),
    Command("TemperatureRecorded", "unit_id", Temperatures, lambda s, c, t, d, _: s.quality.record_temperatures(
        c, unit_id=t, logger=d.logger, readings=d.model_dump(mode="json")["readings"])),
    Command("ExcursionAssessed", "unit_id", Assess, lambda s, c, t, d, sig: s.quality.assess_excursion(
        c, unit_id=t, signoff=sig, **d.model_dump()), meaning="assessed"),
    Command("UnitsDerived", "coi", Derive, lambda s, c, t, d, _: s.quality.derive(
        c, coi=t, inputs=d.inputs, process=d.process, batch=d.batch, consumed=d.consumed,
        outputs=[{**o.model_dump(exclude={"spec"}), "spec": _spec(o.spec)} for o in d.outputs])),
    Command("QCResultRecorded", "unit_id", QC, lambda s, c, t, d, _: s.quality.record_qc(
        c, unit_id=t, **d.model_dump())),
    Command("ProductReleased", "unit_id", Release, lambda s, c, t, d, sig: s.quality.release(
        c, unit_id=t, notes=d.notes, signoff=sig), meaning="released"),
    Command("ProductInfused", "unit_id", Infuse, lambda s, c, t, d, sig: s.quality.infuse(
        c, unit_id=t, coi=d.coi, wristband_mrn=d.wristband, bag_coi=d.bag_coi, infused_at=d.infused_at,
        signoff=sig), meaning="administered"),
    Command("UnitQuarantined", "unit_id", WithReason, lambda s, c, t, d, _: s.quality.quarantine(
        c, unit_id=t, reason=d.reason)),
    Command("UnitReleasedFromQuarantine", "unit_id", WithReason, lambda s, c, t, d, _: s.quality.lift_quarantine(
        c, unit_id=t, reason=d.reason)),
    Command("UnitDisposed", "unit_id", Dispose, lambda s, c, t, d, _: s.quality.dispose(
        c, unit_id=t, reason=d.reason, method=d.method)),
    Command("EventCorrected", "stream", Correct, lambda s, c, t, d, _: s.quality.correct(
        c, stream=t, event_id=str(d.event_id), reason=d.reason, changes=d.changes)),
]}


class EsignInput(BaseModel):
    """Part 11 signature: both components (user id and password) on every signing."""

    model_config = ConfigDict(extra="forbid")
    user_id: Ident
    password: Secret
    meaning: Literal["authored", "reviewed", "approved", "released", "received", "administered", "assessed"]


class DeviceSig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: Ident
    key_id: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
    sig: Annotated[str, Field(max_length=200)]


_TARGET_TYPES: dict[str, Any] = {"coi": Name, "unit_id": UUID, "stream": UUID}


def _request_model(command: Command) -> type[BaseModel]:
    fields: dict[str, Any] = {
        "type": (Literal[command.type], ...),  # type: ignore[valid-type]
        "occurred_at": (AwareDatetime | None, Field(default=None, description="when it happened (RFC 3339, zone)")),
        "site": (Ident | None, None),
        "on_behalf": (Ident | None, None),
        "data": (command.data, ...),
        "esign": (EsignInput | None, None),
        "device_sig": (DeviceSig | None, None),
    }
    if command.target != "none":
        fields[command.target] = (_TARGET_TYPES[command.target], ...)
    return create_model(f"{command.type}Request", __config__=ConfigDict(extra="forbid"), **fields)


REQUEST_MODELS = {name: _request_model(command) for name, command in COMMANDS.items()}
EventRequest = Annotated[Union[tuple(REQUEST_MODELS.values())], Field(discriminator="type")]  # noqa: UP007
