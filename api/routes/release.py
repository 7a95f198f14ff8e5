"""QA's review sign-off of a case and its release summary (JSON, or the printable certificate).

The sign-off is also reachable as ``POST /v1/events`` ``{type: "ReviewSignedOff", coi, data, esign}``;
the release itself stays ``ProductReleased`` (``POST /v1/events``), now gated on a current sign-off.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import AwareDatetime, ConfigDict, Field

from ledger.domain.events_release import ReviewSignedOff
from ledger.errors import StreamNotFound
from ledger.services.quality import ReviewSignOff
from ledger.services.release import release_summary
from ledger.timefmt import utc_now

from ..commands import REQUEST_MODELS
from ..deps import AuditReader, ContainerDep, IdempotencyKey, MinPosition, PrincipalDep, Scope, case_in_scope, fresh
from ..requests import BackfillReason, EsignInput, Ident
from ..responses import ReleaseSummary
from ..schemas import PROBLEMS, AppendResponse, append_response
from .events import run_command

router = APIRouter(prefix="/v1/cases", tags=["release"], responses=PROBLEMS)


class SignOffRequest(ReviewSignOff):
    model_config = ConfigDict(extra="forbid")
    esign: EsignInput | None = Field(None, description="Part 11 e-signature, meaning `reviewed` (required)")
    site: Ident | None = Field(None, description="where it is recorded (a registered site id)")
    occurred_at: AwareDatetime | None = Field(None, description="when it happened (RFC 3339 with zone; default: now)")
    backfill_reason: BackfillReason = None


@router.post("/{coi}/review-signoff", status_code=201, response_model=AppendResponse,
             summary="QA's e-signed review sign-off of a case (the exceptions listed as reviewed)")
def sign_off(coi: str, body: SignOffRequest, principal: PrincipalDep, container: ContainerDep,
             idempotency_key: IdempotencyKey = None) -> AppendResponse:
    request = REQUEST_MODELS[ReviewSignedOff.__name__](
        type=ReviewSignedOff.__name__, coi=coi.upper(), esign=body.esign, site=body.site,
        occurred_at=body.occurred_at, backfill_reason=body.backfill_reason,
        data=body.model_dump(mode="json", include={"exceptions", "lot", "comment"}))
    outcome = run_command(container, principal, request, idempotency_key, f"/v1/cases/{coi}/review-signoff")
    container.metrics.events_appended.inc(len(outcome.result.receipts))
    return append_response(outcome)


@router.get("/{coi}/release-summary", summary="Review and release of a case (JSON), or its printable certificate",
            response_model=ReleaseSummary, responses={200: {"content": {"application/pdf": {}}}})
def summary(coi: str, principal: AuditReader, scope: Scope, container: ContainerDep,
            format: Literal["json", "pdf"] = "json",  # noqa: A002 - the documented name
            min_position: MinPosition = None) -> Response:
    fresh(container, min_position)
    coi = case_in_scope(container, scope, coi.upper())
    services = container.services
    found: dict[str, Any] | None = release_summary(services.reads(), coi, now=utc_now(),
                                                   case_units=services.executor.case_units)
    if found is None:
        raise StreamNotFound(f"no case {coi}", code="CASE_NOT_FOUND")
    if format == "pdf":
        from ..release_pdf import render_certificate

        return Response(render_certificate(found), media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="release-{coi}.pdf"'})
    return Response(json.dumps(ReleaseSummary.model_validate(found).model_dump(mode="json"), ensure_ascii=False)
                    .encode("utf-8"), media_type="application/json")
