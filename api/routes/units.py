"""Units: labelling, state, logger uploads and printable labels."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ledger.errors import Forbidden, InvalidEvent, StreamNotFound
from ledger.timefmt import format_utc
from scanners.label_pdf import render_label_sheet_pdf
from scanners.labels import LabelData, render_label_png, render_label_svg

from ..commands import Ident, Label, Name, Reading, _spec
from ..deps import ContainerDep, IdempotencyKey, Principal, PrincipalDep, Reader, context_for
from ..policy import EVENT_ROLES
from ..responses import UnitState
from ..schemas import PROBLEMS, AppendResponse, append_response
from ..views import unit_view

router = APIRouter(prefix="/v1/units", tags=["units"], responses=PROBLEMS)


def _may(principal: Principal, event_type: str) -> None:
    if not principal.may(EVENT_ROLES[event_type]):
        raise Forbidden(f"role(s) {', '.join(principal.roles)} may not record {event_type}")


class Labelling(Label):
    model_config = ConfigDict(extra="forbid")
    coi: Name = Field(description="the case's COI id")
    site: Ident | None = Field(None, description="where it is labelled (site id)")
    occurred_at: AwareDatetime | None = Field(None, description="when it happened (RFC 3339 with zone; default: now)")


@router.post("", status_code=201, response_model=AppendResponse,
             summary="Label a unit: returns answer.unit_id and answer.label")
def label_unit(body: Labelling, principal: PrincipalDep, container: ContainerDep,
               idempotency_key: IdempotencyKey = None) -> AppendResponse:
    _may(principal, "UnitLabelled")
    ctx = context_for(principal, site=body.site, occurred_at=format_utc(body.occurred_at) if body.occurred_at else None,
                      idempotency_key=idempotency_key, request_body=body.model_dump(mode="json"), route="/v1/units")
    outcome = container.services.units.label(
        ctx, coi=body.coi, kind=body.kind, spec=_spec(body.spec), identifiers=body.identifiers,
        parents=body.parents, custodian=body.custodian, product=body.product, volume_ml=body.volume_ml)
    container.metrics.events_appended.inc(len(outcome.result.receipts))
    return append_response(outcome)


def _unit(container, unit_id: UUID):
    unit = container.services.units.state(unit_id)
    if unit.version == 0:
        raise StreamNotFound(f"no unit {unit_id}", code="UNIT_NOT_FOUND")
    return unit


@router.get("/{unit_id}", summary="Unit state", response_model=UnitState)
def get_unit(unit_id: UUID, principal: Reader, container: ContainerDep) -> dict[str, Any]:
    return unit_view(_unit(container, unit_id))


class LoggerUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    logger_id: Ident = Field(description="the data logger's id")
    readings: list[Reading] = Field(min_length=1, max_length=20000, description="the logger's readings, in time order")
    site: Ident | None = Field(None, description="where the upload is made (site id)")
    occurred_at: AwareDatetime | None = Field(None, description="when it happened (RFC 3339 with zone)")
    device_sig: dict[str, str] | None = Field(None, description="the device's signature, for a signing logger")


class AppliedLimits(BaseModel):
    min_celsius: float | None
    max_celsius: float | None
    source: Literal["own", "container", "contents"] = Field(description=(
        "own: the unit's spec; container: a unit without a range is kept to the container's "
        "(its own, else the narrowest of the other units inside); contents: a container without "
        "a range inherits the narrowest range of what it carried, checked on the units inside"))


class NotApplied(BaseModel):
    before_packing: int = Field(description="readings taken before the unit was packed in the container")
    after_unpacking: int = Field(description="readings taken after the unit was unpacked")


class UnitApplied(BaseModel):
    unit_id: str
    label: str | None
    via_container: str | None = Field(description="the logged container, for a unit packed in it; null for itself")
    packed_at: str | None
    unpacked_at: str | None
    readings_applied: int = Field(description="readings that apply to this unit (taken while it was inside)")
    not_applied: NotApplied
    limits: AppliedLimits | None = Field(description="the range checked; null: no range, nothing checked")
    readings_checked: int
    excursions_detected: int = Field(description="excursions found in these readings")
    excursions_opened: int = Field(description="of which new (ExcursionDetected appended; the rest were known)")


class UploadReport(BaseModel):
    logger: str
    readings: int = Field(description="readings recorded on the logged unit")
    first: str
    last: str
    excursions_detected: int
    excursions_opened: int
    units: list[UnitApplied] = Field(description="the logged unit first, then one entry per packing interval "
                                                 "of a unit in it that did not end before the first reading")


class UploadResponse(AppendResponse):
    """The write receipt and what the upload did."""

    answer: UploadReport  # type: ignore[assignment]


@router.post("/{unit_id}/temperatures", status_code=201, response_model=UploadResponse,
             summary="Logger upload: thousands of readings in one request; excursions are detected")
def upload_temperatures(unit_id: UUID, body: LoggerUpload, principal: PrincipalDep, container: ContainerDep,
                        idempotency_key: IdempotencyKey = None) -> UploadResponse:
    """Readings of a container apply to a unit packed in it only while it was inside: the answer
    counts, per unit, the readings applied and those not applied (before packing, after unpacking)."""
    _may(principal, "TemperatureRecorded")
    ctx = context_for(principal, site=body.site, occurred_at=format_utc(body.occurred_at) if body.occurred_at else None,
                      idempotency_key=idempotency_key, request_body=body.model_dump(mode="json"),
                      route=f"/v1/units/{unit_id}/temperatures", device_sig=body.device_sig)
    readings = [r.model_dump(mode="json") for r in body.readings]
    outcome = container.services.quality.record_temperatures(ctx, unit_id=unit_id, logger=body.logger_id,
                                                             readings=readings)
    container.metrics.events_appended.inc(len(outcome.result.receipts))
    return UploadResponse.model_validate(append_response(outcome).model_dump())


MEDIA = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}


@router.get("/{unit_id}/label.{fmt}", summary="Printable label (QR + Code 128 + text; no patient data)",
            response_class=Response, responses={200: {"content": {m: {} for m in MEDIA.values()}}})
def get_label(unit_id: UUID, fmt: Literal["png", "svg", "pdf"], principal: Reader, container: ContainerDep) -> Response:
    unit = _unit(container, unit_id)
    identifiers = dict(unit.identifiers)
    try:
        label = LabelData(
            unit_label_id=unit.label or "", coi_id=unit.coi or "", unit_kind=unit.kind or "unit",
            expiry=unit.spec.expiry, isbt_din=identifiers.get("din") or identifiers.get("isbt_din"),
            gs1_element_string=identifiers.get("gs1"),
        )
    except ValueError as exc:  # recorded before identifiers were checked at labelling: correct them
        raise InvalidEvent(f"the label cannot be printed: {exc}; correct the unit's identifiers",
                           code="INVALID_IDENTIFIER") from None
    body = {"png": lambda: render_label_png(label), "svg": lambda: render_label_svg(label),
            "pdf": lambda: render_label_sheet_pdf([label])}[fmt]()
    return Response(body, media_type=MEDIA[fmt],
                    headers={"Content-Disposition": f'inline; filename="{unit.label}.{fmt}"'})
