"""The Unit aggregate: one stream per labelled physical thing (bag, sample, shipper ...).

The state folds everything the operational checks need: custody (and any pending
handover), packing, shipment, excursions with their assessment, QC results, release,
quarantine, disposal, consumption by manufacturing, allocation and infusion.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from ..streams import lot_stream
from ..timefmt import format_utc, parse_utc
from .base import Envelope, as_uuid, fold, refusal, when
from .events_unit import CONTAINER_KINDS, UnitSpec


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


def _labelled(s: UnitState, d: dict[str, Any], _: Envelope) -> UnitState:
    return replace(
        s, kind=d["kind"], coi=d["coi"], case=UUID(d["case"]), label=d["label"],
        identifiers=tuple(sorted(d.get("identifiers", {}).items())),
        parents=tuple(UUID(p) for p in d.get("parents", [])),
        spec=UnitSpec.model_validate(d.get("spec") or {}), custodian=d["custodian"],
    )


def _acknowledged(s: UnitState, d: dict[str, Any], _: Envelope) -> UnitState:
    return replace(s, custodian=d["to_party"], pending=None,
                   location=d.get("location") or s.location)


def _packed(s: UnitState, d: dict[str, Any], env: Envelope) -> UnitState:
    unit, container = UUID(d["unit"]), UUID(d["container"])
    if container == as_uuid(env["stream"]):
        return replace(s, contents=(*s.contents, unit), stays=(*s.stays, Stay(unit, when(env))))
    return replace(s, container=container, stays=(*s.stays, Stay(container, when(env))))


def _unpacked(s: UnitState, d: dict[str, Any], env: Envelope) -> UnitState:
    unit, container = UUID(d["unit"]), UUID(d["container"])
    other = unit if container == as_uuid(env["stream"]) else container
    stays = tuple(replace(x, until=when(env)) if x.other == other and x.until is None else x
                  for x in s.stays)
    if other == unit:
        return replace(s, contents=tuple(u for u in s.contents if u != unit), stays=stays)
    return replace(s, container=None, stays=stays)


def _excursion(s: UnitState, d: dict[str, Any], _: Envelope) -> UnitState:
    found = Excursion(UUID(d["excursion_id"]), UUID(d["source"]), d["logger"],
                      parse_utc(d["start"]), parse_utc(d["end"]), d["min_celsius"],
                      d["max_celsius"], d.get("ongoing", False))
    if s.excursion(found.id) is not None:
        return s
    return replace(s, excursions=(*s.excursions, found))


def _assessed(s: UnitState, d: dict[str, Any], _: Envelope) -> UnitState:
    target = UUID(d["excursion_id"])
    return replace(s, excursions=tuple(
        replace(x, decision=d["decision"]) if x.id == target else x for x in s.excursions))


def _derived(s: UnitState, d: dict[str, Any], _: Envelope) -> UnitState:
    outputs = tuple(UUID(o) for o in d["outputs"])
    return replace(s, consumed=s.consumed or d.get("consumed", True),
                   derived_into=(*s.derived_into, *outputs))


def _started(s: UnitState, d: dict[str, Any], env: Envelope) -> UnitState:
    """On an input: consumed into the lot. On the lot's own stream: the lot, a unit of kind
    ``lot`` whose parents are the inputs (so release sees the whole lineage)."""
    stream = as_uuid(env["stream"])
    inputs = tuple(UUID(i) for i in d["inputs"])
    if stream in inputs:
        return replace(s, consumed=True,
                       derived_into=(*s.derived_into, lot_stream(d["coi"], d["lot"])))
    return replace(s, kind="lot", coi=d["coi"], case=UUID(d["case"]), label=d["lot"],
                   parents=inputs, custodian=env["actor"], location=d["site"])


def _dispatched(s: UnitState, d: dict[str, Any], _: Envelope) -> UnitState:
    return replace(s, shipment=Shipment(d["carrier"], d["tracking"], d["from_site"],
                                        d["to_site"]))


_HANDLERS = {
    "UnitLabelled": _labelled,
    "MaterialCollected": lambda s, d, e: replace(s, collected=True),
    "CustodyTransferred": lambda s, d, e: replace(s, pending=Pending(
        d["from_party"], d["to_party"], d.get("via_container") and UUID(d["via_container"]))),
    "CustodyAcknowledged": _acknowledged,
    "CustodyDeclined": lambda s, d, e: replace(s, pending=None),
    "PackedInto": _packed,
    "UnpackedFrom": _unpacked,
    "ShipmentDispatched": _dispatched,
    "ShipmentDelivered": lambda s, d, e: replace(s, shipment=None, location=d["to_site"]),
    "ExcursionDetected": _excursion,
    "ExcursionAssessed": _assessed,
    "UnitsDerived": _derived,
    "ManufacturingStarted": _started,
    "ManufacturingStepRecorded": lambda s, d, e: replace(s, stages=(*s.stages, d["stage"])),
    "ProductFilled": lambda s, d, e: replace(s, consumed=True, derived_into=(
        *s.derived_into, *(UUID(o) for o in d["outputs"]))),
    "QCResultRecorded": lambda s, d, e: replace(
        s, qc=(*s.qc, QCResult(d["test"], d["result"], when(e)))),
    "ProductReleased": lambda s, d, e: replace(s, released=True),
    "ProductInfused": lambda s, d, e: replace(s, infused=True),
    "ProductAllocated": lambda s, d, e: replace(s, allocated_to=UUID(d["patient_case"])),
    "UnitQuarantined": lambda s, d, e: replace(s, quarantined=True),
    "UnitReleasedFromQuarantine": lambda s, d, e: replace(s, quarantined=False),
    "UnitDisposed": lambda s, d, e: replace(s, disposed=True),
}


def fold_unit(envelopes: Iterable[Envelope]) -> UnitState:
    return fold(UnitState(), _HANDLERS, envelopes)


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
