"""The Unit aggregate: one stream per labelled physical thing (bag, sample, shipper ...).

The state folds everything the operational checks need: custody (and any pending
handover), packing, shipment, excursions with their assessment, QC results, release,
quarantine, disposal, consumption by manufacturing, allocation and infusion.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from ..datatypes import EventData
from ..streams import lot_stream
from ..timefmt import format_utc
from .base import Envelope, as_uuid, refusal, when
from .events_case import ProductAllocated
from .events_quality import (
    ExcursionAssessed,
    ExcursionDetected,
    ManufacturingStarted,
    ManufacturingStepRecorded,
    ProductFilled,
    ProductInfused,
    ProductReleased,
    QCResultRecorded,
    UnitDisposed,
    UnitQuarantined,
    UnitReleasedFromQuarantine,
    UnitsDerived,
)
from .events_spec import ProcessParameterRecorded
from .events_unit import (
    CONTAINER_KINDS,
    CustodyAcknowledged,
    CustodyDeclined,
    CustodyTransferred,
    MaterialCollected,
    PackedInto,
    ShipmentDelivered,
    ShipmentDispatched,
    UnitLabelled,
    UnitSpec,
    UnpackedFrom,
)
from .folding import fold


@dataclass(frozen=True)
class Excursion:
    id: UUID
    source: UUID
    logger: str
    start: datetime
    end: datetime
    min_celsius: float
    max_celsius: float
    ongoing: bool = False
    decision: str | None = None  # None until assessed: "use" or "discard"


@dataclass(frozen=True)
class Pending:
    from_party: str
    to_party: str
    via_container: UUID | None = None


@dataclass(frozen=True)
class Stay:
    """A packing interval: for a unit, ``other`` is the container; for a container, the unit."""

    other: UUID
    since: datetime
    until: datetime | None = None


@dataclass(frozen=True)
class Shipment:
    carrier: str
    tracking: str
    from_site: str
    to_site: str


@dataclass(frozen=True)
class QCResult:
    test: str
    result: str
    at: datetime
    value: float | str | None = None
    uom: str | None = None
    within_limits: bool | None = None


@dataclass(frozen=True)
class ParameterValue:
    """A process parameter recorded on a lot (``ProcessParameterRecorded``)."""

    name: str
    value: float
    uom: str | None
    within_limits: bool | None
    at: datetime


@dataclass(frozen=True)
class UnitState:
    stream: UUID | None = None
    version: int = 0
    kind: str | None = None
    coi: str | None = None
    case: UUID | None = None
    label: str | None = None
    identifiers: tuple[tuple[str, str], ...] = ()
    parents: tuple[UUID, ...] = ()
    spec: UnitSpec = UnitSpec()
    custodian: str | None = None
    location: str | None = None
    pending: Pending | None = None
    container: UUID | None = None
    contents: tuple[UUID, ...] = ()
    stays: tuple[Stay, ...] = ()
    collected: bool = False
    shipment: Shipment | None = None
    excursions: tuple[Excursion, ...] = ()
    qc: tuple[QCResult, ...] = ()
    released: bool = False
    quarantined: bool = False
    disposed: bool = False
    consumed: bool = False
    infused: bool = False
    allocated_to: UUID | None = None
    derived_into: tuple[UUID, ...] = ()
    stages: tuple[str, ...] = ()  # a lot's recorded process steps
    spec_version: int | None = None  # a lot's pinned product specification version
    parameters: tuple[ParameterValue, ...] = ()  # a lot's recorded process parameters

    @property
    def is_container(self) -> bool:
        return self.kind in CONTAINER_KINDS

    def expired(self, now: datetime) -> bool:
        """Past its expiry at ``now``: the event's time (``occurred_at``), not the server's."""
        return self.spec.expiry is not None and self.spec.expiry <= now

    @property
    def expiry_text(self) -> str:
        return format_utc(self.spec.expiry) if self.spec.expiry is not None else "-"

    def excursion(self, excursion_id: UUID) -> Excursion | None:
        return next((x for x in self.excursions if x.id == excursion_id), None)


def _evolve(s: UnitState, event: EventData, env: Envelope) -> UnitState:
    match event:
        case UnitLabelled():
            return replace(
                s, kind=event.kind, coi=event.coi, case=event.case, label=event.label,
                identifiers=tuple(sorted(event.identifiers.items())), parents=tuple(event.parents),
                spec=event.spec, custodian=event.custodian)
        case MaterialCollected():
            return replace(s, collected=True)
        case CustodyTransferred(from_party=sender, to_party=receiver, via_container=via):
            return replace(s, pending=Pending(sender, receiver, via))
        case CustodyAcknowledged(to_party=receiver, location=location):
            return replace(s, custodian=receiver, pending=None, location=location or s.location)
        case CustodyDeclined():
            return replace(s, pending=None)
        case PackedInto(unit=unit, container=container):
            if container == as_uuid(env["stream"]):
                return replace(s, contents=(*s.contents, unit), stays=(*s.stays, Stay(unit, when(env))))
            return replace(s, container=container, stays=(*s.stays, Stay(container, when(env))))
        case UnpackedFrom(unit=unit, container=container):
            return _unpacked(s, unit, container, env)
        case ShipmentDispatched(carrier=carrier, tracking=tracking, from_site=origin, to_site=to):
            return replace(s, shipment=Shipment(carrier, tracking, origin, to))
        case ShipmentDelivered(to_site=to):
            return replace(s, shipment=None, location=to)
        case ExcursionDetected():
            if s.excursion(event.excursion_id) is not None:
                return s
            return replace(s, excursions=(*s.excursions, Excursion(
                event.excursion_id, event.source, event.logger, event.start, event.end,
                event.min_celsius, event.max_celsius, event.ongoing)))
        case ExcursionAssessed(excursion_id=target, decision=decision):
            return replace(s, excursions=tuple(
                replace(x, decision=decision) if x.id == target else x for x in s.excursions))
        case UnitsDerived(outputs=outputs, consumed=consumed):
            return replace(s, consumed=s.consumed or consumed, derived_into=(*s.derived_into, *outputs))
        case ManufacturingStarted():
            return _started(s, event, env)
        case ManufacturingStepRecorded(stage=stage):
            return replace(s, stages=(*s.stages, stage))
        case ProductFilled(outputs=outputs):
            return replace(s, consumed=True, derived_into=(*s.derived_into, *outputs))
        case QCResultRecorded(test=test, result=result):
            return replace(s, qc=(*s.qc, QCResult(test, result, when(env), event.value, event.uom,
                                                  event.within_limits)))
        case ProcessParameterRecorded(parameter=name, value=value):
            return replace(s, parameters=(*s.parameters, ParameterValue(
                name, value, event.uom, event.within_limits, when(env))))
        case ProductReleased():
            return replace(s, released=True)
        case ProductInfused():
            return replace(s, infused=True)
        case ProductAllocated(patient_case=patient_case):
            return replace(s, allocated_to=patient_case)
        case UnitQuarantined():
            return replace(s, quarantined=True)
        case UnitReleasedFromQuarantine():
            return replace(s, quarantined=False)
        case UnitDisposed():
            return replace(s, disposed=True)
    return s


def _unpacked(s: UnitState, unit: UUID, container: UUID, env: Envelope) -> UnitState:
    other = unit if container == as_uuid(env["stream"]) else container
    stays = tuple(replace(x, until=when(env)) if x.other == other and x.until is None else x
                  for x in s.stays)
    if other == unit:
        return replace(s, contents=tuple(u for u in s.contents if u != unit), stays=stays)
    return replace(s, container=None, stays=stays)


def _started(s: UnitState, event: ManufacturingStarted, env: Envelope) -> UnitState:
    """On an input: consumed into the lot. On the lot's own stream: the lot, a unit of kind
    ``lot`` whose parents are the inputs (so release sees the whole lineage)."""
    if as_uuid(env["stream"]) in event.inputs:
        return replace(s, consumed=True,
                       derived_into=(*s.derived_into, lot_stream(event.coi, event.lot)))
    return replace(s, kind="lot", coi=event.coi, case=event.case, label=event.lot,
                   parents=tuple(event.inputs), custodian=env["actor"], location=event.site,
                   spec_version=event.spec_version)


def fold_unit(envelopes: Iterable[Envelope]) -> UnitState:
    return fold(UnitState(), _evolve, envelopes)


# Guards shared by the unit commands -------------------------------------------------------


def require_unit(unit: UnitState) -> None:
    if unit.version == 0 or unit.stream is None:
        raise refusal("UNIT_NOT_FOUND", "no unit is labelled in this stream")


def require_usable(unit: UnitState) -> None:
    """The unit exists and is still in play: not disposed, infused or consumed."""
    require_unit(unit)
    if unit.disposed:
        raise refusal("UNIT_DISPOSED", f"unit {unit.label} has been disposed of")
    if unit.infused:
        raise refusal("ALREADY_INFUSED", f"unit {unit.label} has been infused")
    if unit.consumed:
        raise refusal("UNIT_CONSUMED", f"unit {unit.label} was consumed by manufacturing")


def require_custodian(unit: UnitState, actor: str) -> None:
    if unit.custodian != actor:
        raise refusal("NOT_CUSTODIAN",
                      f"{actor} is not the custodian of {unit.label} ({unit.custodian} is)")


def require_settled(unit: UnitState) -> None:
    """No handover waiting for acknowledgement and no shipment in transit."""
    if unit.pending is not None:
        raise refusal("TRANSFER_PENDING",
                      f"{unit.label}: handover to {unit.pending.to_party} is not acknowledged")
    if unit.shipment is not None:
        raise refusal("IN_TRANSIT", f"{unit.label} is in transit ({unit.shipment.tracking})")


def require_not_packed(unit: UnitState) -> None:
    if unit.container is not None:
        raise refusal("PACKED_IN_CONTAINER",
                      f"{unit.label} is packed in container {unit.container}")


def require_contents(container: UnitState, contents: Sequence[UnitState]) -> None:
    """The service must pass exactly the container's current contents (a programming error
    otherwise, not a refusal)."""
    given = sorted(str(u.stream) for u in contents)
    if given != sorted(str(u) for u in container.contents):
        raise ValueError(f"contents of {container.stream} must be passed exactly")
