"""Every domain event a client may submit, as a typed command (``POST /v1/events``).

Each command names its event (the domain's data model), its target (``coi``, ``unit_id`` or
``stream``), its request data (``api.requests``) and a named handler that calls the service.
The request models form a discriminated union on ``type``, so ``/openapi.json`` documents
every event's fields. The Part 11 meaning a command requires comes from its event's spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model

from ledger.datatypes import EventData
from ledger.domain.catalogue import spec_of
from ledger.domain.events_case import (
    CaseCancelled,
    CaseEnrolled,
    CaseOnHold,
    CaseResumed,
    DonorRegistered,
    EventCorrected,
    ProductAllocated,
)
from ledger.domain.events_quality import (
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
from ledger.domain.events_unit import (
    CustodyAcknowledged,
    CustodyDeclined,
    CustodyTransferred,
    MaterialCollected,
    PackedInto,
    ShipmentDelivered,
    ShipmentDispatched,
    UnitLabelled,
    UnpackedFrom,
)
from ledger.domain.spec import Meaning
from ledger.errors import InvalidEvent
from ledger.services import Outcome, Services, SignOff
from ledger.services.executor import Context

from . import requests as rq
from .policy import EVENT_ROLES
from .requests import DeviceSig, EsignInput, Ident, Name


def required_meaning(event: type[EventData]) -> Meaning | None:
    """The Part 11 meaning a signature on ``event`` must carry, from its spec."""
    return spec_of(event.__name__).meaning


# Handlers, by service: (services, ctx, target, data, signoff) -> Outcome.

def enrol(s: Services, ctx: Context, _: None, data: rq.Enrol, signoff: SignOff | None) -> Outcome:
    return s.cases.enrol(ctx, **data.model_dump())


def register_donor(s: Services, ctx: Context, _: None, data: rq.Donor, signoff: SignOff | None) -> Outcome:
    return s.cases.register_donor(ctx, **data.model_dump())


def hold(s: Services, ctx: Context, coi: str, data: rq.WithReason, signoff: SignOff | None) -> Outcome:
    return s.cases.hold(ctx, coi, data.reason)


def resume(s: Services, ctx: Context, coi: str, data: rq.WithReason, signoff: SignOff | None) -> Outcome:
    return s.cases.resume(ctx, coi, data.reason)


def cancel(s: Services, ctx: Context, coi: str, data: rq.WithReason, signoff: SignOff | None) -> Outcome:
    return s.cases.cancel(ctx, coi, data.reason)


def allocate(s: Services, ctx: Context, coi: str, data: rq.Allocate, signoff: SignOff | None) -> Outcome:
    return s.cases.allocate(ctx, patient_coi=coi, donor_coi=data.donor_coi, unit_id=data.unit_id)


def label(s: Services, ctx: Context, coi: str, data: rq.Label, signoff: SignOff | None) -> Outcome:
    return s.units.label(ctx, coi=coi, **data.model_dump(exclude={"spec"}), spec=rq.spec_json(data.spec))


def collect(s: Services, ctx: Context, unit_id: UUID, data: rq.Collect, signoff: SignOff | None) -> Outcome:
    return s.units.collect(ctx, unit_id=unit_id, wristband_mrn=data.wristband,
                           **data.model_dump(exclude={"wristband"}))


def handover(s: Services, ctx: Context, unit_id: UUID, data: rq.Handover, signoff: SignOff | None) -> Outcome:
    return s.units.handover(ctx, unit_id=unit_id, **data.model_dump())


def acknowledge(s: Services, ctx: Context, unit_id: UUID, data: rq.Acknowledge, signoff: SignOff | None) -> Outcome:
    return s.units.acknowledge(ctx, unit_id=unit_id, **data.model_dump())


def decline(s: Services, ctx: Context, unit_id: UUID, data: rq.WithReason, signoff: SignOff | None) -> Outcome:
    return s.units.decline(ctx, unit_id=unit_id, reason=data.reason)


def pack(s: Services, ctx: Context, unit_id: UUID, data: rq.Pack, signoff: SignOff | None) -> Outcome:
    return s.units.pack(ctx, unit_id=unit_id, container_id=data.container_id)


def unpack(s: Services, ctx: Context, unit_id: UUID, data: rq.Pack, signoff: SignOff | None) -> Outcome:
    return s.units.unpack(ctx, unit_id=unit_id, container_id=data.container_id)


def dispatch(s: Services, ctx: Context, unit_id: UUID, data: rq.Dispatch, signoff: SignOff | None) -> Outcome:
    return s.units.dispatch(ctx, unit_id=unit_id, **data.model_dump())


def deliver(s: Services, ctx: Context, unit_id: UUID, data: rq.Deliver, signoff: SignOff | None) -> Outcome:
    return s.units.deliver(ctx, unit_id=unit_id, **data.model_dump())


def record_temperatures(s: Services, ctx: Context, unit_id: UUID, data: rq.Temperatures,
                        signoff: SignOff | None) -> Outcome:
    return s.quality.record_temperatures(ctx, unit_id=unit_id, logger=data.logger,
                                         readings=data.model_dump(mode="json")["readings"])


def assess_excursion(s: Services, ctx: Context, unit_id: UUID, data: rq.Assess, signoff: SignOff | None) -> Outcome:
    return s.quality.assess_excursion(ctx, unit_id=unit_id, signoff=signoff, **data.model_dump())


def derive(s: Services, ctx: Context, coi: str, data: rq.Derive, signoff: SignOff | None) -> Outcome:
    return s.quality.derive(ctx, coi=coi, inputs=data.inputs, process=data.process, batch=data.batch,
                            consumed=data.consumed, outputs=rq.outputs_json(data.outputs))


def start_manufacturing(s: Services, ctx: Context, coi: str, data: rq.StartManufacturing,
                        signoff: SignOff | None) -> Outcome:
    return s.quality.start_manufacturing(ctx, coi=coi, **data.model_dump())


def record_step(s: Services, ctx: Context, coi: str, data: rq.ManufacturingStep, signoff: SignOff | None) -> Outcome:
    return s.quality.record_step(ctx, coi=coi, **data.model_dump())


def fill(s: Services, ctx: Context, coi: str, data: rq.Fill, signoff: SignOff | None) -> Outcome:
    return s.quality.fill(ctx, coi=coi, lot=data.lot, outputs=rq.outputs_json(data.outputs))


def record_qc(s: Services, ctx: Context, unit_id: UUID, data: rq.QC, signoff: SignOff | None) -> Outcome:
    return s.quality.record_qc(ctx, unit_id=unit_id, **data.model_dump())


def release(s: Services, ctx: Context, unit_id: UUID, data: rq.Release, signoff: SignOff | None) -> Outcome:
    return s.quality.release(ctx, unit_id=unit_id, notes=data.notes, signoff=signoff)


def infuse(s: Services, ctx: Context, unit_id: UUID, data: rq.Infuse, signoff: SignOff | None) -> Outcome:
    return s.quality.infuse(ctx, unit_id=unit_id, coi=data.coi, wristband_mrn=data.wristband, bag_coi=data.bag_coi,
                            infused_at=data.infused_at, signoff=signoff)


def quarantine(s: Services, ctx: Context, unit_id: UUID, data: rq.WithReason, signoff: SignOff | None) -> Outcome:
    return s.quality.quarantine(ctx, unit_id=unit_id, reason=data.reason)


def lift_quarantine(s: Services, ctx: Context, unit_id: UUID, data: rq.WithReason,
                    signoff: SignOff | None) -> Outcome:
    return s.quality.lift_quarantine(ctx, unit_id=unit_id, reason=data.reason)


def dispose(s: Services, ctx: Context, unit_id: UUID, data: rq.Dispose, signoff: SignOff | None) -> Outcome:
    return s.quality.dispose(ctx, unit_id=unit_id, reason=data.reason, method=data.method)


def correct(s: Services, ctx: Context, stream: UUID, data: rq.Correct, signoff: SignOff | None) -> Outcome:
    return s.quality.correct(ctx, stream=stream, event_id=str(data.event_id), reason=data.reason,
                             changes=data.changes)


Handler = Callable[[Services, Context, Any, Any, SignOff | None], Outcome]


@dataclass(frozen=True)
class Command:
    event: type[EventData]
    target: Literal["none", "coi", "unit_id", "stream"]
    data: type[rq.Data]
    handle: Handler
    site_field: str | None = None  # the data field naming where the event happens (its site)

    @property
    def type(self) -> str:
        return self.event.__name__

    @property
    def meaning(self) -> Meaning | None:
        """The Part 11 meaning this step requires (from the event's spec)."""
        return required_meaning(self.event)

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
    Command(CaseEnrolled, "none", rq.Enrol, enrol, site_field="treating_site"),
    Command(DonorRegistered, "none", rq.Donor, register_donor),
    Command(CaseOnHold, "coi", rq.WithReason, hold),
    Command(CaseResumed, "coi", rq.WithReason, resume),
    Command(CaseCancelled, "coi", rq.WithReason, cancel),
    Command(ProductAllocated, "coi", rq.Allocate, allocate),
    Command(UnitLabelled, "coi", rq.Label, label),
    Command(MaterialCollected, "unit_id", rq.Collect, collect),
    Command(CustodyTransferred, "unit_id", rq.Handover, handover),
    Command(CustodyAcknowledged, "unit_id", rq.Acknowledge, acknowledge),
    Command(CustodyDeclined, "unit_id", rq.WithReason, decline),
    Command(PackedInto, "unit_id", rq.Pack, pack),
    Command(UnpackedFrom, "unit_id", rq.Pack, unpack),
    Command(ShipmentDispatched, "unit_id", rq.Dispatch, dispatch),
    Command(ShipmentDelivered, "unit_id", rq.Deliver, deliver),
    Command(TemperatureRecorded, "unit_id", rq.Temperatures, record_temperatures),
    Command(ExcursionAssessed, "unit_id", rq.Assess, assess_excursion),
    Command(UnitsDerived, "coi", rq.Derive, derive),
    Command(ManufacturingStarted, "coi", rq.StartManufacturing, start_manufacturing),
    Command(ManufacturingStepRecorded, "coi", rq.ManufacturingStep, record_step),
    Command(ProductFilled, "coi", rq.Fill, fill),
    Command(QCResultRecorded, "unit_id", rq.QC, record_qc),
    Command(ProductReleased, "unit_id", rq.Release, release),
    Command(ProductInfused, "unit_id", rq.Infuse, infuse),
    Command(UnitQuarantined, "unit_id", rq.WithReason, quarantine),
    Command(UnitReleasedFromQuarantine, "unit_id", rq.WithReason, lift_quarantine),
    Command(UnitDisposed, "unit_id", rq.Dispose, dispose),
    Command(EventCorrected, "stream", rq.Correct, correct),
]}


_TARGET_TYPES: dict[str, Any] = {"coi": Name, "unit_id": UUID, "stream": UUID}
_TARGETS = {"coi": "the case's COI id", "unit_id": "the unit (or container) the event is about",
            "stream": "the stream of the event being corrected (a case or unit id)"}


def _request_model(command: Command) -> type[BaseModel]:
    meaning = command.meaning
    fields: dict[str, Any] = {
        "type": (Literal[command.type], ...),  # type: ignore[valid-type]
        "occurred_at": (AwareDatetime | None, Field(default=None, description="when it happened (RFC 3339, zone)")),
        "site": (Ident | None, Field(default=None, description="where it happened (a registered site id)")),
        "on_behalf": (Ident | None, Field(default=None, description="the user a device or integrator acts for")),
        "data": (command.data, Field(description=f"the {command.type} event's fields")),
        "esign": (EsignInput | None, Field(default=None, description=(
            f"Part 11 e-signature, required with meaning {meaning!r}" if meaning
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
