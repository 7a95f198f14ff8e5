"""Event data of unit streams: labelling, collection, scanning, custody, packing, shipping.

A unit is one labelled physical thing. Events that move a container are also appended on
each contained unit's stream with ``via_container`` set, so each unit's own stream tells
its whole custody and shipping history.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, Field, model_validator

from ..datatypes import Celsius, Decimal2, EventData, Identifier, Text, UtcTime
from .events_case import CoiId, LabelId, Reason
from .identifiers import validate_label_identifiers
from .spec import OBSERVE, UNSIGNED, Epcis, EventSpec, Signature, given, num

UnitKind = Literal[
    "apheresis_bag", "sample", "cryobag", "final_product_bag", "shipper", "container"
]
CONTAINER_KINDS = frozenset({"shipper", "container"})
COLLECTABLE_KINDS = frozenset({"apheresis_bag", "sample"})
RELEASABLE_KINDS = frozenset({"final_product_bag", "cryobag"})

IdKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Identifiers = Annotated[dict[IdKey, Identifier], Field(max_length=16)]
"""Identifiers by kind, e.g. what a scan decoded."""
LabelIdentifiers = Annotated[Identifiers, AfterValidator(validate_label_identifiers)]
"""Other identifiers on the label, e.g. ``{"din": ..., "gs1": ..., "epc": ...}``: each is
checked and normalised so that it prints on the label and a scan of it finds the unit."""

ScanPurpose = Literal[
    "verify", "collection", "pack", "unpack", "handover", "receipt", "dispatch", "delivery",
    "manufacturing", "qc", "release", "storage", "infusion", "disposal",
]
SCAN_PURPOSES: tuple[str, ...] = ScanPurpose.__args__  # type: ignore[attr-defined]
Verdict = Literal["match", "mismatch", "unknown", "expired", "wrong_step"]


class UnitSpec(EventData):
    """What the unit must keep to: temperature range, expiry, the QC tests required for release."""

    min_celsius: Celsius | None = None
    max_celsius: Celsius | None = None
    expiry: UtcTime | None = None
    qc_required: Annotated[list[Identifier], Field(max_length=50)] = []

    @model_validator(mode="after")
    def _range(self) -> UnitSpec:
        if (self.min_celsius is not None and self.max_celsius is not None
                and self.min_celsius > self.max_celsius):
            raise ValueError("min_celsius is above max_celsius")
        return self


class UnitLabelled(EventData):
    kind: UnitKind
    coi: CoiId
    case: UUID
    label: LabelId
    custodian: Identifier
    identifiers: LabelIdentifiers = {}
    parents: Annotated[list[UUID], Field(max_length=100)] = []
    spec: UnitSpec = UnitSpec()
    product: Text | None = None
    volume_ml: Annotated[Decimal2, Field(ge=0)] | None = None
    witness_due: UtcTime | None = None
    """Set when labelling needs a second person's witness (``LEDGER_WITNESS_STEPS``): the time by
    which ``StepWitnessed`` must be recorded (``ledger.domain.witness``)."""


class MaterialCollected(EventData):
    """Collection at the apheresis site after the wristband was checked against the case."""

    material: Identifier
    collection_site: Identifier
    patient_ref: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    volume_ml: Annotated[Decimal2, Field(ge=0)] | None = None
    started_at: UtcTime | None = None
    ended_at: UtcTime | None = None


class Expected(EventData):
    coi: CoiId | None = None
    unit: UUID | None = None


class Scanned(EventData):
    """What was scanned, without its text: the parser's ``kind``, the ``length`` and a keyed digest."""

    kind: Identifier
    length: Annotated[int, Field(ge=1)]
    digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class UnitScanned(EventData):
    """A scan-to-verify: the identifiers parsed from a unit's label (none when no unit matched)
    and ``scanned`` (kind, length, keyed digest); never the scanned text, which may be a
    wristband's MRN. ``raw`` is only in events recorded before."""

    raw: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    scanned: Scanned | None = None
    parsed: Identifiers = {}
    purpose: ScanPurpose
    verdict: Verdict
    reason: Text | None = None
    expected: Expected = Expected()
    location: Identifier | None = None
    device: Identifier | None = None


class CustodyTransferred(EventData):
    """A handover offered by the custodian; pending until the receiver acknowledges."""

    from_party: Identifier
    to_party: Identifier
    location: Identifier | None = None
    condition: Text | None = None
    via_container: UUID | None = None


class CustodyAcknowledged(EventData):
    from_party: Identifier
    to_party: Identifier
    location: Identifier | None = None
    condition: Text | None = None
    via_container: UUID | None = None


class CustodyDeclined(EventData):
    """The named receiver refuses the handover; custody stays with the sender."""

    from_party: Identifier
    to_party: Identifier
    reason: Reason
    via_container: UUID | None = None


class PackedInto(EventData):
    """On both the unit's and the container's stream."""

    unit: UUID
    container: UUID


class UnpackedFrom(EventData):
    unit: UUID
    container: UUID


class ShipmentDispatched(EventData):
    carrier: Identifier
    tracking: Identifier
    from_site: Identifier
    to_site: Identifier
    via_container: UUID | None = None


class ShipmentDelivered(EventData):
    carrier: Identifier
    tracking: Identifier
    to_site: Identifier
    condition: Text | None = None
    via_container: UUID | None = None


UNIT_EVENTS: dict[str, type[EventData]] = {
    m.__name__: m
    for m in (UnitLabelled, MaterialCollected, UnitScanned, CustodyTransferred,
              CustodyAcknowledged, CustodyDeclined, PackedInto, UnpackedFrom,
              ShipmentDispatched, ShipmentDelivered)
}

FIELD = ("courier", "operator", "clinician", "integrator", "device")
"""The roles that handle units in the field."""
SHIPPING = ("courier", "operator", "integrator", "device")
CUSTODY = ("from_party", "to_party", "location", "via_container")
"""Who holds a unit, and where: a correction of them moves custody, so it needs approval."""

UNIT_SPECS: tuple[EventSpec[Any], ...] = (
    EventSpec(UnitLabelled, ("operator", "integrator"),
              lambda d: f"{d.kind} {d.label} labelled for {d.coi}"
                        + (f" from {len(d.parents)} parent(s)" if d.parents else ""),
              Epcis("commissioning", "commissioning", "active", "ADD"), critical="all",
              signature=Signature.optional("authored", "reviewed")),
    EventSpec(MaterialCollected, ("operator", "clinician"),
              lambda d: f"{d.material} collected at {d.collection_site}"
                        + (f", {num(d.volume_ml)} mL" if d.volume_ml else ""),
              Epcis("observe", "collecting", action="OBSERVE"),
              sites=lambda d: given(d.collection_site), critical="all", signature=Signature.optional("authored")),
    EventSpec(UnitScanned, (*FIELD, "qa"), lambda d: f"scan for {d.purpose}: {d.verdict}",
              Epcis("observe", "inspecting", action="OBSERVE"), sites=lambda d: given(d.location),
              critical=("raw", "scanned", "parsed", "purpose", "verdict", "expected", "location", "device"),
              signature=UNSIGNED),
    EventSpec(CustodyTransferred, FIELD, lambda d: f"handover offered {d.from_party} -> {d.to_party}",
              Epcis("custody", "shipping", action="OBSERVE"), sites=lambda d: given(d.location),
              critical=CUSTODY, signature=Signature.optional("authored")),
    EventSpec(CustodyAcknowledged, FIELD,
              lambda d: f"custody taken by {d.to_party} from {d.from_party}",
              Epcis("custody", "receiving", action="OBSERVE"), sites=lambda d: given(d.location),
              critical=CUSTODY, signature=Signature.optional("received")),
    EventSpec(CustodyDeclined, FIELD, lambda d: f"handover declined by {d.to_party}", OBSERVE,
              critical=("from_party", "to_party", "via_container"), signature=Signature.optional("authored")),
    EventSpec(PackedInto, FIELD, lambda d: f"unit {d.unit} packed into {d.container}",
              Epcis("aggregation", "packing", action="ADD"), critical="all", signature=Signature.optional("authored")),
    EventSpec(UnpackedFrom, FIELD, lambda d: f"unit {d.unit} unpacked from {d.container}",
              Epcis("aggregation", "unpacking", action="DELETE"), critical="all",
              signature=Signature.optional("authored", "received")),
    EventSpec(ShipmentDispatched, SHIPPING,
              lambda d: f"dispatched {d.from_site} -> {d.to_site} with {d.carrier} ({d.tracking})",
              Epcis("shipment", "departing", action="OBSERVE"),
              sites=lambda d: given(d.from_site, d.to_site), critical=("from_site", "to_site", "via_container"),
              signature=Signature.optional("authored")),
    EventSpec(ShipmentDelivered, SHIPPING,
              lambda d: f"delivered to {d.to_site} by {d.carrier} ({d.tracking})",
              Epcis("shipment", "arriving", action="OBSERVE"), sites=lambda d: given(d.to_site),
              critical=("to_site", "via_container"), signature=Signature.optional("received")),
)
