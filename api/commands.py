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

from .policy import EVENT_ROLES

Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
Ident = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$",
                             description="an identifier: user, device, site, party, GLN ...")]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]
Secret = Annotated[str, Field(min_length=1, max_length=256)]


class Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Enrol(Data):
    kind: Literal["autologous", "allogeneic"] = Field(
        description="autologous (the patient's own cells) or allogeneic (a donor's)")
    product: Name = Field(description="the therapy's product name")
    treating_site: Ident = Field(description="the site that treats the patient (a registered site id)")
    mrn: Secret = Field(description="patient record number: pseudonymised on arrival, never stored")
    collection_site: Ident | None = Field(None,
        description="where the material is collected, when not the treating site")
    protocol: Name | None = Field(None, description="the clinical protocol or study, if any")


class Donor(Data):
    product: Name = Field(description="the allogeneic product made from this donor's material")
    collection_site: Ident = Field(description="where the donor's material is collected (a registered site id)")
    donor_id: Secret = Field(description="donor identifier: pseudonymised on arrival, never stored")
    din: Name | None = Field(None,
        description="the ISBT 128 donation identification number (13 characters), if the donation has one")


class WithReason(Data):
    reason: Reason = Field(description="why (shown in the audit trail)")


class Allocate(Data):
    donor_coi: Name = Field(description="the donor case's COI id that the unit comes from")
    unit_id: UUID = Field(
        description="the donor-derived dose (a released unit of the donor case) given to this patient")


class Spec(Data):
    min_celsius: float | None = Field(None,
        description="lowest allowed temperature (°C); readings below it are an excursion")
    max_celsius: float | None = Field(None,
        description="highest allowed temperature (°C); readings above it are an excursion")
    expiry: AwareDatetime | None = Field(None,
        description="when the unit expires (RFC 3339 with zone); steps dated after it are refused")
    qc_required: list[Name] = Field(default_factory=list, max_length=50,
        description="QC tests that must pass before release")


class Label(Data):
    kind: Literal["apheresis_bag", "sample", "cryobag", "final_product_bag", "shipper", "container"] = Field(
        description="what the label goes on: a bag, a sample or a container (shipper)")
    spec: Spec | None = Field(None, description="storage limits, expiry and required QC of the unit")
    identifiers: dict[Name, Name] = Field(default_factory=dict, max_length=20,
        description="other identifiers printed on it, by kind (din: ISBT 128 DIN, gs1: GS1 element string ...)")
    parents: list[UUID] = Field(default_factory=list, max_length=100, description="units it is made from (unit ids)")
    custodian: Name | None = Field(None, description="who holds it first (default: the caller)")
    product: Name | None = Field(None, description="product name, if it is a product")
    volume_ml: float | None = Field(default=None, ge=0, description="volume in millilitres")


class Collect(Data):
    wristband: Secret = Field(description="the wristband's record number: compared as a pseudonym, never stored")
    material: Name = Field(description="what was collected, e.g. leukapheresis")
    collection_site: Ident = Field(description="where (a registered site id)")
    volume_ml: float | None = Field(default=None, ge=0, description="volume collected in millilitres")
    started_at: AwareDatetime | None = Field(None, description="when the collection started (RFC 3339)")
    ended_at: AwareDatetime | None = Field(None, description="when the collection ended (RFC 3339)")


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


class Reading(Data):
    t: AwareDatetime = Field(description="when the reading was taken (RFC 3339 with zone)")
    celsius: float = Field(description="the temperature in °C")


class Temperatures(Data):
    logger: Ident = Field(description="the data logger's id")
    readings: list[Reading] = Field(min_length=1, max_length=20000, description="the logger's readings, in time order")


class Assess(Data):
    excursion_id: UUID = Field(description="the excursion (from the unit's state or conditions)")
    decision: Literal["use", "discard"] = Field(description="use the unit despite the excursion, or discard it")
    rationale: Reason = Field(description="why (Part 11: shown with the signature)")


class Output(Data):
    kind: Literal["cryobag", "final_product_bag", "sample"] = Field(
        description="what is made: cryobag, final_product_bag or sample (a QC sample)")
    spec: Spec | None = Field(None, description="storage limits, expiry and required QC of the output")
    identifiers: dict[Name, Name] = Field(default_factory=dict, max_length=20,
        description="other identifiers printed on it, by kind")
    product: Name | None = Field(None, description="product name")
    volume_ml: float | None = Field(default=None, ge=0, description="volume in millilitres")


class Derive(Data):
    inputs: list[UUID] = Field(min_length=1, max_length=100, description="the units processed (unit ids)")
    outputs: list[Output] = Field(min_length=1, max_length=100, description="the units made: each gets a new label")
    process: Name = Field(description="the manufacturing process")
    batch: Name | None = Field(None, description="the lot or batch number")
    consumed: bool = Field(True,
        description="whether the inputs are used up (false: a sample is taken and the input goes on)")


LotNumber = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/+-]*$",
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


class QC(Data):
    test: Name = Field(description="the QC test's name (e.g. sterility)")
    result: Literal["pass", "fail"] = Field(description="pass or fail")
    value: float | str | None = Field(None, description="the measured value, if any")
    uom: Name | None = Field(None, description="unit of measure of value")
    method: Name | None = Field(None, description="the test method")
    sample_id: UUID | None = Field(None, description="the sample unit tested, if any")


class Release(Data):
    notes: Reason | None = Field(None, description="release notes (shown with the QA signature)")


class Infuse(Data):
    coi: Name = Field(description="the patient case's COI id (the patient being infused)")
    wristband: Secret = Field(description="the wristband's record number: compared as a pseudonym, never stored")
    bag_coi: Name = Field(
        description=("the COI id printed on the bag: the patient's own for autologous, the donor case's for an "
                     "allocated allogeneic dose"))
    infused_at: AwareDatetime | None = Field(None,
        description="when the infusion started (RFC 3339); default: occurred_at")


class Dispose(Data):
    reason: Reason = Field(description="why it is disposed of")
    method: Name | None = Field(None, description="how, e.g. incineration")


class Correct(Data):
    event_id: UUID = Field(description="the event being corrected (it stays; the correction is a new event)")
    reason: str = Field(max_length=2000, description="why the correction is made")
    changes: dict[str, Any] = Field(min_length=1, max_length=50,
        description="field -> new value, for the corrected event's data")


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
    Command("ManufacturingStarted", "coi", StartManufacturing, lambda s, c, t, d, _: s.quality.start_manufacturing(
        c, coi=t, **d.model_dump())),
    Command("ManufacturingStepRecorded", "coi", ManufacturingStep, lambda s, c, t, d, _: s.quality.record_step(
        c, coi=t, **d.model_dump())),
    Command("ProductFilled", "coi", Fill, lambda s, c, t, d, _: s.quality.fill(
        c, coi=t, lot=d.lot, outputs=[{**o.model_dump(exclude={"spec"}), "spec": _spec(o.spec)} for o in d.outputs])),
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
    user_id: Ident = Field(description="the signer: must be the signed-in user")
    password: Secret = Field(description="the signer's password (re-authentication, 11.200)")
    meaning: Literal["authored", "reviewed", "approved", "released", "received", "administered", "assessed"] = Field(
        description="what the signature means; a signed step requires its own meaning")


class DeviceSig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: Ident = Field(description="the device id")
    key_id: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")] = Field(description="the device key's id (16 hex digits)")
    sig: Annotated[str, Field(max_length=200)] = Field(description="the device's signature over the event (base64)")


_TARGET_TYPES: dict[str, Any] = {"coi": Name, "unit_id": UUID, "stream": UUID}
_TARGETS = {"coi": "the case's COI id", "unit_id": "the unit (or container) the event is about",
            "stream": "the stream of the event being corrected (a case or unit id)"}


def _request_model(command: Command) -> type[BaseModel]:
    fields: dict[str, Any] = {
        "type": (Literal[command.type], ...),  # type: ignore[valid-type]
        "occurred_at": (AwareDatetime | None, Field(default=None, description="when it happened (RFC 3339, zone)")),
        "site": (Ident | None, Field(default=None, description="where it happened (a registered site id)")),
        "on_behalf": (Ident | None, Field(default=None, description="the user a device or integrator acts for")),
        "data": (command.data, Field(description=f"the {command.type} event's fields")),
        "esign": (EsignInput | None, Field(default=None, description=(
            f"Part 11 e-signature, required with meaning {command.meaning!r}" if command.meaning
            else "Part 11 e-signature (not required for this event)"))),
        "device_sig": (DeviceSig | None, Field(default=None, description="a signing device's signature")),
    }
    if command.target != "none":
        fields[command.target] = (_TARGET_TYPES[command.target], Field(description=_TARGETS[command.target]))
    roles = ", ".join(EVENT_ROLES[command.type])
    return create_model(f"{command.type}Request", __config__=ConfigDict(extra="forbid"),
                        __doc__=f"{command.type}: may be posted by the roles {roles}.", **fields)


REQUEST_MODELS = {name: _request_model(command) for name, command in COMMANDS.items()}
EventRequest = Annotated[Union[tuple(REQUEST_MODELS.values())], Field(discriminator="type")]  # noqa: UP007
