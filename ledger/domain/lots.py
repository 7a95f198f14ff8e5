"""Manufacturing in stages: a lot is started, its process steps recorded, its product filled.

Started: the inputs (apheresis bags ...) are consumed into a lot opened for the case at a
manufacturing site; their expiry is judged now, at the start. In process: steps with a stage
name. Filled (or cryopreserved): the output units are labelled at fill time, with the lot as
their parent, days later, whatever the inputs' expiry by then. The lot's stream folds as a
unit of kind ``lot`` (parents = inputs), so QC, quarantine and release lineage work on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from ..errors import InvalidEvent
from .base import NewEvent, new_event, refusal, require_aware
from .case import CaseState, require_case
from .events_quality import ManufacturingStarted, ManufacturingStepRecorded, ProductFilled
from .events_spec import ProcessParameterRecorded
from .events_unit import UnitLabelled, UnitSpec
from .identifiers import validate_unit_label
from .manufacturing import DerivedOutput, require_inputs, require_same_coi
from .product_spec import ProductSpecState, SpecVersion, judge_parameter
from .registry import SiteState
from .unit import UnitState, require_usable


def decide_start(case: CaseState, lot: UnitState, inputs: Sequence[UnitState], *, lot_id: UUID,
                 lot_number: str, process: str, site: SiteState | None, actor: str,
                 now: datetime, spec: ProductSpecState | None = None) -> list[NewEvent]:
    """Open lot ``lot_number`` (stream ``lot_id``, read as ``lot``) consuming ``inputs``; the
    product's specification in force (``spec``: the product's state) is pinned to the lot."""
    require_aware(now)
    require_case(case)
    if site is None or site.version == 0 or site.kind != "manufacturing":
        raise refusal("NOT_A_MANUFACTURING_SITE",
                      f"{site.site_id if site and site.site_id else 'no site'} is not a "
                      "registered manufacturing site")
    if lot.version:
        raise refusal("LOT_EXISTS", f"lot {lot_number} was already started for {case.coi}")
    if not inputs:
        raise InvalidEvent("manufacturing needs inputs", code="INVALID_DATA")
    require_same_coi(case, inputs, step=ManufacturingStarted.__name__)
    in_ids = [u.stream for u in inputs]
    if len(set(in_ids)) != len(in_ids):
        raise InvalidEvent("an input is named twice", code="INVALID_DATA")
    require_inputs(inputs, actor=actor, now=now)
    in_force = spec.in_force if spec is not None else None
    fields = {"lot": lot_number, "coi": case.coi, "case": case.stream, "inputs": in_ids,
              "process": process, "site": site.site_id,
              "spec_version": in_force.version if in_force else None}
    return [new_event(s, ManufacturingStarted, **fields)  # type: ignore[arg-type]
            for s in [lot_id, *in_ids]]


def _require_in_process(case: CaseState, lot: UnitState, lot_number: str, site: str | None) -> None:
    require_case(case)
    if lot.version == 0 or lot.kind != "lot":
        raise refusal("LOT_NOT_STARTED", f"no manufacturing was started for lot {lot_number}")
    require_usable(lot)
    if lot.quarantined:
        raise refusal("UNIT_QUARANTINED", f"lot {lot.label} is quarantined")
    if site != lot.location:
        raise refusal("LOT_AT_OTHER_SITE", f"lot {lot.label} is manufactured at {lot.location}")


def decide_step(case: CaseState, lot: UnitState, *, lot_number: str, stage: str,
                notes: str | None = None, site: str | None, actor: str,
                now: datetime) -> list[NewEvent]:
    """A process step of an open lot, recorded at the lot's site."""
    require_aware(now)
    _require_in_process(case, lot, lot_number, site)
    return [new_event(lot.stream, ManufacturingStepRecorded,  # type: ignore[arg-type]
                      lot=lot_number, stage=stage, notes=notes)]


def decide_fill(case: CaseState, lot: UnitState, outputs: Sequence[DerivedOutput], *,
                lot_number: str, site: str | None, actor: str, now: datetime,
                spec: SpecVersion | None = None) -> list[NewEvent]:
    """Fill the lot into ``outputs``, labelled now with the lot as parent and its number. An
    output given no expiry expires after its kind's shelf life in the lot's pinned
    specification (``spec``), counted from now.

    The inputs were checked at the start; their expiry since then does not matter."""
    require_aware(now)
    _require_in_process(case, lot, lot_number, site)
    if not outputs:
        raise InvalidEvent("a fill needs outputs", code="INVALID_DATA")
    labels = [validate_unit_label(o.label) for o in outputs]
    out_ids = [o.unit_id for o in outputs]
    if len(set(labels)) != len(labels) or len(set(out_ids)) != len(out_ids):
        raise InvalidEvent("outputs must be new units with distinct labels", code="INVALID_DATA")
    filled = new_event(lot.stream, ProductFilled, lot=lot_number,  # type: ignore[arg-type]
                       outputs=out_ids)
    labelled = [new_event(o.unit_id, UnitLabelled, kind=o.kind, coi=case.coi, case=case.stream,
                          label=label, custodian=actor,
                          identifiers={**o.identifiers, "lot": lot_number}, parents=[lot.stream],
                          spec=shelf_life(o.spec, spec.shelf_life_hours(o.kind) if spec else None, now),
                          product=o.product, volume_ml=o.volume_ml)
                for o, label in zip(outputs, labels, strict=True)]
    return [filled, *labelled]


def shelf_life(given: UnitSpec | Mapping[str, Any] | None, hours: float | None, now: datetime) -> Any:
    """``given`` (a unit's spec), with expiry ``now + hours`` when it gives none."""
    unit_spec = UnitSpec.model_validate(given) if isinstance(given, Mapping) else (given or UnitSpec())
    if hours is None or unit_spec.expiry is not None:
        return given if given is not None else UnitSpec()
    expiry = (now + timedelta(hours=hours)).replace(microsecond=0)
    return unit_spec.model_copy(update={"expiry": expiry})


def decide_parameter(case: CaseState, lot: UnitState, *, lot_number: str, parameter: str, value: float,
                     uom: str | None = None, spec: SpecVersion | None = None, site: str | None,
                     actor: str, now: datetime) -> list[NewEvent]:
    """A process parameter (CPP) or quality attribute (CQA) measured on an open lot, judged
    against the lot's pinned specification version (``spec``)."""
    require_aware(now)
    _require_in_process(case, lot, lot_number, site)
    judged = judge_parameter(spec, parameter=parameter, value=value, uom=uom)
    return [new_event(lot.stream, ProcessParameterRecorded,  # type: ignore[arg-type]
                      lot=lot_number, parameter=parameter, value=value, uom=judged.uom,
                      spec_version=judged.spec_version, limits=judged.limits,
                      within_limits=judged.within_limits)]
