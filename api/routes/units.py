"""Units: labelling, state, logger uploads, printable labels, genealogy, custody and conditions.

Every read model answer accepts ``min_position`` (a write's ``position``): see ``deps.fresh``.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ledger.domain.events_quality import TemperatureRecorded
from ledger.domain.events_unit import UnitLabelled
from ledger.errors import InvalidEvent, StreamNotFound
from ledger.services.quality import Readings
from ledger.services.units import Label, spec_json
from ledger.timefmt import format_utc, utc_now
from projections.conditions_query import conditions_for_unit
from projections.custody_query import custody_timeline
from projections.genealogy_query import genealogy_for_unit
from scanners.label_pdf import render_label_sheet_pdf
from scanners.labels import LabelData, render_label_png, render_label_svg

from ..deps import (
    ContainerDep,
    Cursor,
    IdempotencyKey,
    Limit,
    MinPosition,
    PrincipalDep,
    Reader,
    Scope,
    authorise,
    context_for,
    found,
    fresh,
    unit_in_scope,
)
from ..requests import BackfillReason, Ident, Name
from ..responses import Conditions, Custody, Genealogy, UnitState, UploadResponse
from ..schemas import PROBLEMS, AppendResponse, append_response
from ..views import unit_view

router = APIRouter(prefix="/v1/units", tags=["units"], responses=PROBLEMS)


class Labelling(Label):
    model_config = ConfigDict(extra="forbid")
    coi: Name = Field(description="the case's COI id")
    site: Ident | None = Field(None, description="where it is labelled (site id)")
    occurred_at: AwareDatetime | None = Field(None, description="when it happened (RFC 3339 with zone; default: now)")
    backfill_reason: BackfillReason = None


@router.post("", status_code=201, response_model=AppendResponse,
             summary="Label a unit: returns answer.unit_id and answer.label")
def label_unit(body: Labelling, principal: PrincipalDep, container: ContainerDep,
               idempotency_key: IdempotencyKey = None) -> AppendResponse:
    authorise(principal, UnitLabelled.__name__)
    ctx = context_for(principal, site=body.site, occurred_at=format_utc(body.occurred_at) if body.occurred_at else None,
                      idempotency_key=idempotency_key, request_body=body.model_dump(mode="json"), route="/v1/units",
                      backfill_reason=body.backfill_reason)
    outcome = container.services.units.label(
        ctx, coi=body.coi, kind=body.kind, spec=spec_json(body.spec), identifiers=body.identifiers,
        parents=body.parents, custodian=body.custodian, product=body.product, volume_ml=body.volume_ml)
    container.metrics.events_appended.inc(len(outcome.result.receipts))
    return append_response(outcome)


def _unit(container, scope, unit_id: UUID):
    unit_in_scope(container, scope, unit_id)
    unit = container.services.units.state(unit_id)
    if unit.version == 0:
        raise StreamNotFound(f"no unit {unit_id}", code="UNIT_NOT_FOUND")
    return unit


@router.get("/{unit_id}", summary="Unit state", response_model=UnitState)
def get_unit(unit_id: UUID, principal: Reader, scope: Scope, container: ContainerDep) -> dict[str, Any]:
    return unit_view(_unit(container, scope, unit_id))


class LoggerUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    logger_id: Ident = Field(description="the data logger's id")
    readings: Readings = Field(description="the logger's readings, in time order")
    site: Ident | None = Field(None, description="where the upload is made (site id)")
    occurred_at: AwareDatetime | None = Field(None, description="when it happened (RFC 3339 with zone)")
    backfill_reason: BackfillReason = None
    device_sig: dict[str, str] | None = Field(None, description="the device's signature, for a signing logger")


@router.post("/{unit_id}/temperatures", status_code=201, response_model=UploadResponse,
             summary="Logger upload: thousands of readings in one request; excursions are detected")
def upload_temperatures(unit_id: UUID, body: LoggerUpload, principal: PrincipalDep, container: ContainerDep,
                        idempotency_key: IdempotencyKey = None) -> UploadResponse:
    """Readings of a container apply to a unit packed in it only while it was inside: the answer
    counts, per unit, the readings applied and those not applied (before packing, after unpacking)."""
    authorise(principal, TemperatureRecorded.__name__)
    ctx = context_for(principal, site=body.site, occurred_at=format_utc(body.occurred_at) if body.occurred_at else None,
                      idempotency_key=idempotency_key, request_body=body.model_dump(mode="json"),
                      route=f"/v1/units/{unit_id}/temperatures", device_sig=body.device_sig,
                      backfill_reason=body.backfill_reason)
    readings = [r.model_dump(mode="json") for r in body.readings]
    outcome = container.services.quality.record_temperatures(ctx, unit_id=unit_id, logger=body.logger_id,
                                                             readings=readings)
    container.metrics.events_appended.inc(len(outcome.result.receipts))
    return UploadResponse.model_validate(append_response(outcome).model_dump())


MEDIA = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}


@router.get("/{unit_id}/label.{fmt}", summary="Printable label (QR + Code 128 + text; no patient data)",
            response_class=Response, responses={200: {"content": {m: {} for m in MEDIA.values()}}})
def get_label(unit_id: UUID, fmt: Literal["png", "svg", "pdf"], principal: Reader, scope: Scope,
              container: ContainerDep) -> Response:
    unit = _unit(container, scope, unit_id)
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


@router.get("/{unit_id}/genealogy", summary="Genealogy of a unit: ancestors and descendants",
            response_model=Genealogy)
def unit_genealogy(unit_id: UUID, principal: Reader, scope: Scope, container: ContainerDep,
                   min_position: MinPosition = None) -> dict[str, Any]:
    fresh(container, min_position)
    unit_in_scope(container, scope, unit_id)
    with container.engine.connect() as conn:
        return found(genealogy_for_unit(conn, str(unit_id), scope), f"unit {unit_id}", "UNIT_NOT_FOUND")


@router.get("/{unit_id}/custody", summary="Custody timeline: holders, transfers, shipments, gaps",
            response_model=Custody)
def custody(unit_id: UUID, principal: Reader, scope: Scope, container: ContainerDep,
            min_position: MinPosition = None) -> dict[str, Any]:
    fresh(container, min_position)
    unit_in_scope(container, scope, unit_id)
    with container.engine.connect() as conn:
        return found(custody_timeline(conn, str(unit_id), now=utc_now()), f"unit {unit_id}", "UNIT_NOT_FOUND")


@router.get("/{unit_id}/conditions", summary="Temperature summary, excursions and readings",
            response_model=Conditions)
def conditions(unit_id: UUID, principal: Reader, scope: Scope, container: ContainerDep, limit: Limit = 1000,
               cursor: Cursor = None, downsample: bool = False, min_position: MinPosition = None) -> dict[str, Any]:
    fresh(container, min_position)
    unit_in_scope(container, scope, unit_id)
    with container.engine.connect() as conn:
        return found(conditions_for_unit(conn, str(unit_id), limit=limit, cursor=cursor, downsample=downsample),
                     f"unit {unit_id}", "UNIT_NOT_FOUND")
