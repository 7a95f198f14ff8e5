"""POST /v1/events and /v1/events/batch: any domain event, as a typed command."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from ledger.domain.esign import require_on_behalf, require_signature_accepted
from ledger.errors import Forbidden
from ledger.services import SignOff
from ledger.timefmt import format_utc

from ..commands import COMMANDS, EventRequest
from ..container import Container
from ..deps import ContainerDep, IdempotencyKey, Principal, PrincipalDep, authorise, context_for
from ..schemas import PROBLEMS, AppendResponse, append_response

router = APIRouter(prefix="/v1", tags=["events"], responses=PROBLEMS)


def signoff_for(container: Container, principal: Principal, esign: Any, event_type: str,
                on_behalf: str | None = None) -> SignOff | None:
    """Re-authenticate the signer (user id and password, 11.200) and prepare the signature: the
    signed-in user's, or, acting ``on_behalf`` of someone, that person's (``require_on_behalf``,
    checked here before their password is tried, and again by the executor). A signature the
    event type would not keep is refused first (``require_signature_accepted``)."""
    if on_behalf is not None:
        require_on_behalf(on_behalf, container.services.reads().user(on_behalf),
                          esign.user_id if esign is not None else None)
    if esign is None:
        return None
    require_signature_accepted(event_type, esign.meaning)
    if on_behalf is None and (principal.kind != "user" or esign.user_id != principal.id):
        raise Forbidden("only the signed-in user can sign, with their own id and password",
                        code="SIGNER_NOT_AUTHORISED")
    return container.services.identity.signoff(user_id=esign.user_id, password=esign.password,
                                                meaning=esign.meaning)


def run_command(container: Container, principal: Principal, body: Any, key: str | None, route: str,
                services: Any = None):
    """Run the command (``services``: ``container.services``), or return its step when given
    ``container.services.plan``."""
    command = COMMANDS[body.type]
    authorise(principal, body.type)
    ctx = context_for(
        principal, site=command.site(body.data, body.site),
        occurred_at=format_utc(body.occurred_at) if body.occurred_at else None,
        # the body is digested for an idempotency claim only (a batch's steps have none of their own)
        idempotency_key=key, request_body=_without_secrets(body) if key is not None else None, route=route,
        on_behalf=body.on_behalf,
        device_sig=body.device_sig.model_dump(exclude_none=True) if body.device_sig else None,
        backfill_reason=body.backfill_reason,
    )
    signoff = signoff_for(container, principal, body.esign, body.type, body.on_behalf)
    if signoff is not None:
        ctx = replace(ctx, signoff=signoff)
    target = getattr(body, command.target) if command.target != "none" else None
    return command.handle(services or container.services, ctx, target, body.data, signoff)


def _without_secrets(body: Any) -> dict[str, Any]:
    dumped = body.model_dump(mode="json")
    if dumped.get("esign"):
        dumped["esign"] = {k: v for k, v in dumped["esign"].items() if k != "password"}
    return dumped


@router.post("/events", status_code=201, response_model=AppendResponse,
             summary="Append one domain event (typed by `type`)")
def post_event(body: Annotated[EventRequest, Body()], principal: PrincipalDep, container: ContainerDep,
               idempotency_key: IdempotencyKey = None) -> AppendResponse:
    outcome = run_command(container, principal, body, idempotency_key, "/v1/events")
    container.metrics.events_appended.inc(len(outcome.result.receipts))
    return append_response(outcome)


class Batch(BaseModel):
    events: list[EventRequest] = Field(min_length=1, max_length=500,
        description="the events, appended in this order in one transaction (all or nothing)")


class BatchResponse(BaseModel):
    results: list[AppendResponse]


@router.post("/events/batch", status_code=201, response_model=BatchResponse,
             summary="Append many events in one transaction: all or nothing")
def post_batch(body: Batch, principal: PrincipalDep, container: ContainerDep,
               idempotency_key: IdempotencyKey = None) -> BatchResponse:
    services = container.services
    dumped = [_without_secrets(e) for e in body.events] if idempotency_key is not None else None
    claim_ctx = context_for(principal, site=None, idempotency_key=idempotency_key, route="/v1/events/batch",
                            request_body=dumped)
    steps = [run_command(container, principal, event, None, "/v1/events/batch", services.plan)
             for event in body.events]
    outcomes = services.executor.run_steps(steps, claim_ctx.claim)
    container.metrics.events_appended.inc(sum(len(o.result.receipts) for o in outcomes))
    return BatchResponse(results=[append_response(o) for o in outcomes])

