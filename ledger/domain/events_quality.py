"""Event data of unit streams: conditions, manufacturing, QC, release, infusion, disposal."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, field_validator

from ..datatypes import Celsius, Decimal2, EventData, Identifier, Text, UtcTime
from .events_case import CoiId, LabelId, PatientRef, Reason
from .events_unit import SHIPPING
from .spec import OBSERVE, UNSIGNED, Epcis, EventSpec, Signature, num

MAX_READINGS = 20_000


class Reading(EventData):
    t: UtcTime
    celsius: Celsius


class TemperatureRecorded(EventData):
    """A logger upload: readings strictly in time order, at most ``MAX_READINGS`` per event."""

    logger: Identifier
    readings: Annotated[list[Reading], Field(min_length=1, max_length=MAX_READINGS)]

    @field_validator("readings")
    @classmethod
    def _in_time_order(cls, readings: list[Reading]) -> list[Reading]:
        for before, after in zip(readings, readings[1:], strict=False):
            if after.t <= before.t:
                raise ValueError(f"readings must be in time order: {after.t} after {before.t}")
        return readings


class ExcursionDetected(EventData):
    """Readings outside the unit's spec; ``source`` is the unit whose logger recorded them.

    ``start`` is the first reading out of range, ``end`` the first reading back in range
    (or the last reading if it never came back: ``ongoing``).
    """

    excursion_id: UUID
    source: UUID
    logger: Identifier
    start: UtcTime
    end: UtcTime
    duration_s: Annotated[int, Field(ge=0)]
    min_celsius: Celsius
    max_celsius: Celsius
    limit_min: Celsius | None = None
    limit_max: Celsius | None = None
    readings: Annotated[int, Field(ge=1)]
    ongoing: bool = False


class ExcursionAssessed(EventData):
    """QA's decision on one excursion; needs an e-signature with meaning ``assessed``."""

    excursion_id: UUID
    decision: Literal["use", "discard"]
    rationale: Reason


class UnitsDerived(EventData):
    """Manufacturing inputs -> outputs (split, pool); appended on every input's stream."""

    inputs: Annotated[list[UUID], Field(min_length=1, max_length=100)]
    outputs: Annotated[list[UUID], Field(min_length=1, max_length=100)]
    process: Identifier
    batch: Identifier | None = None
    consumed: bool = True


class ManufacturingStarted(EventData):
    """A lot opened for the case at a manufacturing site: the inputs are consumed now (within
    their expiry). Appended on the lot's stream and on every input's stream."""

    lot: Identifier
    coi: CoiId
    case: UUID
    inputs: Annotated[list[UUID], Field(min_length=1, max_length=100)]
    process: Identifier
    site: Identifier
    spec_version: Annotated[int, Field(ge=1)] | None = None
    """The product specification version in force at the start, pinned to the lot (null: none
    approved)."""


class ManufacturingStepRecorded(EventData):
    """A process step of an open lot (activation, transduction, expansion, harvest ...)."""

    lot: Identifier
    stage: Identifier
    notes: Text | None = None


class ProductFilled(EventData):
    """Fill/cryopreservation: the outputs are labelled now, derived from the lot (on its stream)."""

    lot: Identifier
    outputs: Annotated[list[UUID], Field(min_length=1, max_length=100)]


class QCResultRecorded(EventData):
    test: Identifier
    result: Literal["pass", "fail"]
    value: Decimal2 | Text | None = None
    uom: Identifier | None = None
    method: Text | None = None
    sample: UUID | None = None
    spec_version: Annotated[int, Field(ge=1)] | None = None
    """The product specification version pinned to the unit's lot, if any."""
    within_limits: bool | None = None
    """The ledger's judgement of ``value`` against that version's criterion for ``test`` (null:
    no criterion with limits or expected text)."""


class ProductReleased(EventData):
    """QA release; needs an e-signature with meaning ``released``."""

    coi: CoiId
    label: LabelId
    qc_tests: Annotated[list[Identifier], Field(max_length=100)] = []
    excursions: Annotated[list[UUID], Field(max_length=1000)] = []
    notes: Text | None = None


class ProductInfused(EventData):
    """Bedside administration, on the unit's stream; clinician e-signature ``administered``."""

    case: UUID
    coi: CoiId
    patient_ref: PatientRef
    label: LabelId
    bag_coi: CoiId
    infused_at: UtcTime | None = None


class UnitQuarantined(EventData):
    reason: Reason


class UnitReleasedFromQuarantine(EventData):
    reason: Reason


class UnitDisposed(EventData):
    reason: Reason
    method: Identifier | None = None


QUALITY_EVENTS: dict[str, type[EventData]] = {
    m.__name__: m
    for m in (TemperatureRecorded, ExcursionDetected, ExcursionAssessed, UnitsDerived,
              ManufacturingStarted, ManufacturingStepRecorded, ProductFilled, QCResultRecorded,
              ProductReleased, ProductInfused, UnitQuarantined, UnitReleasedFromQuarantine,
              UnitDisposed)
}


def _excursion(d: ExcursionDetected) -> str:
    low, high = ("-" if v is None else num(v) for v in (d.limit_min, d.limit_max))
    return (f"excursion {num(d.min_celsius)}..{num(d.max_celsius)} °C for {d.duration_s} s "
            f"(limits {low}..{high})")


def _qc(d: QCResultRecorded) -> str:
    shown = f" ({num(d.value)} {d.uom or ''})".rstrip() if d.value is not None else ""
    judged = ", OUT OF SPECIFICATION" if d.within_limits is False else ""
    return f"QC {d.test}: {d.result}{shown}{judged}"


def _inspecting(disposition: str | None = None) -> Epcis:
    return Epcis("observe", "inspecting", disposition, "OBSERVE")


MAKERS = ("operator", "integrator")

QUALITY_SPECS: tuple[EventSpec[Any], ...] = (
    EventSpec(TemperatureRecorded, SHIPPING,
              lambda d: f"{len(d.readings)} readings from logger {d.logger}",
              Epcis("sensor", "sensor_reporting", action="OBSERVE"), critical="all",
              signature=Signature.optional("authored")),
    EventSpec(ExcursionDetected, (), _excursion, _inspecting("non_conformant"), correctable=False, signature=UNSIGNED),
    EventSpec(ExcursionAssessed, ("qa",), lambda d: f"excursion {d.excursion_id} assessed: {d.decision}",
              OBSERVE, critical="all", signature=Signature.required("assessed")),
    EventSpec(UnitsDerived, MAKERS,
              lambda d: f"{d.process}: {len(d.inputs)} input(s) -> {len(d.outputs)} output(s)",
              Epcis("transformation"), critical="all", signature=Signature.optional("authored", "reviewed")),
    EventSpec(ManufacturingStarted, MAKERS,
              lambda d: f"lot {d.lot} started at {d.site} ({d.process}): {len(d.inputs)} input(s) consumed",
              Epcis("lot_start"), critical="all", signature=Signature.optional("authored", "reviewed")),
    EventSpec(ManufacturingStepRecorded, MAKERS, lambda d: f"lot {d.lot}: {d.stage}", OBSERVE,
              critical=("lot", "stage"), signature=Signature.optional("authored", "reviewed")),
    EventSpec(ProductFilled, MAKERS, lambda d: f"lot {d.lot} filled into {len(d.outputs)} unit(s)",
              Epcis("lot_fill"), critical="all", signature=Signature.optional("authored", "reviewed")),
    EventSpec(QCResultRecorded, ("operator", "qa", "integrator"), _qc, _inspecting(), critical="all",
              signature=Signature.optional("authored", "reviewed", "approved")),
    EventSpec(ProductReleased, ("qa",), lambda d: f"{d.label} released", _inspecting("conformant"), critical="all",
              signature=Signature.required("released")),
    EventSpec(ProductInfused, ("clinician",), lambda d: f"{d.label} infused into {d.coi}",
              Epcis("observe", "dispensing", action="OBSERVE"),
              critical="all", signature=Signature.required("administered")),
    EventSpec(UnitQuarantined, ("qa", "operator"), lambda d: "unit quarantined",
              Epcis("observe", "holding", "non_conformant", "OBSERVE"),
              signature=Signature.optional("authored", "approved")),
    EventSpec(UnitReleasedFromQuarantine, ("qa",), lambda d: "unit released from quarantine", OBSERVE,
              signature=Signature.optional("approved", "authored")),
    EventSpec(UnitDisposed, ("qa", "operator"),
              lambda d: "unit disposed of" + (f" ({d.method})" if d.method else ""),
              Epcis("observe", "destroying", "destroyed", "OBSERVE"),
              signature=Signature.optional("authored", "approved")),
)
