"""Webhook subscriptions (docs/WEBHOOKS.md): create, list, read, pause, resume, delete, replay, and
the log of deliveries. Only admins and integrators manage subscriptions (``manage_subscriptions``);
an integrator sees and changes only its own, an admin every one. Each change is an event on the
subscription's stream (``ledger.services.subscriptions``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from ledger.domain.events_webhooks import Severity, WebhookUrl
from ledger.services.subscriptions import Owner, SubscriptionNotFound
from projections import webhook_query

from ..authority import Principal, read_scope
from ..deps import ContainerDep, authorised, context_for
from ..requests import Ident, Reason
from ..schemas import PROBLEMS, AppendResponse, append_response

router = APIRouter(prefix="/v1", tags=["webhooks"], responses=PROBLEMS)
Manager = Annotated[Principal, Depends(authorised("manage_subscriptions"))]
SubscriptionPath = Annotated[str, Path(pattern=r"^sub_[0-9a-f]{32}$")]


def owner_of(principal: Principal) -> Owner:
    return Owner(principal.id, tuple(principal.sites), read_scope(principal).everything, "admin" in principal.roles)


class SubscriptionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[WebhookUrl, Field(description="http(s) URL of a public receiver")]
    event_types: list[Ident] = Field(min_length=1, max_length=200, description="the event types to receive")
    sites: list[Ident] = Field([], max_length=100, description="only events involving one of these sites")
    cois: list[Ident] = Field([], max_length=1000, description="only events of these cases (COI ids)")
    min_severity: Severity | None = Field(None, description="events whose data has a lower `severity` are skipped")


class Subscription(BaseModel):
    subscription_id: str
    owner: str
    url: str
    event_types: list[str]
    sites: list[str]
    cois: list[str]
    min_severity: Severity | None
    status: str = Field(description="active, paused or deleted")
    created_position: int
    created_at: str
    queue: dict[str, int] = Field(description="outbox rows by state: pending, delivered, dead, cancelled")


class SubscriptionCreatedResponse(AppendResponse):
    subscription_id: str
    secret: str = Field(description="the signing secret (whsec_...): shown only in this answer, keep it")


class Attempt(BaseModel):
    attempt: int
    attempted_at: str
    outcome: str = Field(description="delivered, retry or dead")
    status_code: int | None
    latency_ms: float
    error: str | None


class Delivery(BaseModel):
    position: int
    event_id: str
    event_type: str
    webhook_id: str
    status: str = Field(description="pending, delivered, dead or cancelled")
    attempts: int
    committed_at: str
    delivered_at: str | None
    last_status: int | None
    last_error: str | None
    attempt_log: list[Attempt]


class Deliveries(BaseModel):
    subscription_id: str
    deliveries: list[Delivery]
    next_after: int | None = Field(description="pass as `after` for the next page (none: last page)")


class ChangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason | None = None


def _synced(container: Any) -> None:
    """The subscriptions' tables have applied everything written so far (read-your-writes)."""
    container.webhooks.outbox.wait_for(container.ledger.last_position())  # catches up itself if not following


def _rows(container: Any, **which: str) -> list[Subscription]:
    _synced(container)
    with container.engine.connect() as conn:
        return [Subscription(**row) for row in webhook_query.subscriptions(conn, **which)]


def _one(container: Any, principal: Principal, subscription_id: str) -> Subscription:
    owner = owner_of(principal)
    found = _rows(container, subscription_id=subscription_id)
    if not found or not (owner.admin or found[0].owner == owner.id):
        raise SubscriptionNotFound(f"no subscription {subscription_id!r}")
    return found[0]


@router.post("/subscriptions", status_code=201, response_model=SubscriptionCreatedResponse,
             summary="Subscribe a URL to events (the signing secret is shown once, in this answer)")
def create_subscription(body: SubscriptionRequest, principal: Manager,
                        container: ContainerDep) -> SubscriptionCreatedResponse:
    """Recorded as ``SubscriptionCreated`` (the secret only sealed). A URL that is not http(s) is ``422
    WEBHOOK_URL_INVALID``; one whose host resolves to a private, loopback, link-local, multicast or
    reserved address is ``422 WEBHOOK_URL_FORBIDDEN``; a site filter naming a site the caller may not
    read is ``403 SITE_FORBIDDEN``."""
    outcome, subscription_id, secret = container.webhooks.subscriptions.create(
        context_for(principal, site=None), owner_of(principal), url=body.url, event_types=body.event_types,
        sites=body.sites, cois=body.cois, min_severity=body.min_severity)
    answer = append_response(outcome)
    return SubscriptionCreatedResponse(**answer.model_dump(), subscription_id=subscription_id, secret=secret)


@router.get("/subscriptions", response_model=list[Subscription], summary="Your subscriptions (an admin's: all)")
def list_subscriptions(principal: Manager, container: ContainerDep) -> list[Subscription]:
    owner = owner_of(principal)
    return _rows(container) if owner.admin else _rows(container, owner=owner.id)


@router.get("/subscriptions/{subscription_id}", response_model=Subscription, summary="One subscription")
def get_subscription(subscription_id: SubscriptionPath, principal: Manager, container: ContainerDep) -> Subscription:
    """``404 SUBSCRIPTION_NOT_FOUND`` for an unknown one and for another integrator's."""
    return _one(container, principal, subscription_id)


@router.post("/subscriptions/{subscription_id}/pause", status_code=201, response_model=AppendResponse,
             summary="Pause deliveries (events keep being queued)")
def pause_subscription(subscription_id: SubscriptionPath, principal: Manager, container: ContainerDep,
                       body: ChangeRequest | None = None) -> AppendResponse:
    """``409 SUBSCRIPTION_PAUSED`` if it is paused already, ``409 SUBSCRIPTION_DELETED`` if deleted."""
    return append_response(container.webhooks.subscriptions.pause(
        context_for(principal, site=None), owner_of(principal), subscription_id, body.reason if body else None))


@router.post("/subscriptions/{subscription_id}/resume", status_code=201, response_model=AppendResponse,
             summary="Resume deliveries (what was queued meanwhile is delivered, in order)")
def resume_subscription(subscription_id: SubscriptionPath, principal: Manager,
                        container: ContainerDep) -> AppendResponse:
    """``409 SUBSCRIPTION_NOT_PAUSED`` if it is not paused."""
    return append_response(container.webhooks.subscriptions.resume(
        context_for(principal, site=None), owner_of(principal), subscription_id))


@router.delete("/subscriptions/{subscription_id}", status_code=201, response_model=AppendResponse,
               summary="Delete a subscription (for good; pending deliveries are cancelled)")
def delete_subscription(subscription_id: SubscriptionPath, principal: Manager,
                        container: ContainerDep) -> AppendResponse:
    """``409 SUBSCRIPTION_DELETED`` if it is deleted already."""
    return append_response(container.webhooks.subscriptions.delete(
        context_for(principal, site=None), owner_of(principal), subscription_id))


@router.post("/subscriptions/{subscription_id}/replay", status_code=201, response_model=AppendResponse,
             summary="Deliver again what was queued for it from a log position on")
def replay_subscription(subscription_id: SubscriptionPath, principal: Manager, container: ContainerDep,
                        from_: Annotated[int, Query(alias="from", ge=1, le=2**62)]) -> AppendResponse:
    """Recorded as ``SubscriptionReplayRequested``: delivered and dead rows from ``from`` on are
    pending again (each with its same ``webhook-id``)."""
    return append_response(container.webhooks.subscriptions.replay(
        context_for(principal, site=None), owner_of(principal), subscription_id, from_))


@router.get("/subscriptions/{subscription_id}/deliveries", response_model=Deliveries,
            summary="The delivery log: each queued event, its state and every attempt")
def list_deliveries(subscription_id: SubscriptionPath, principal: Manager, container: ContainerDep,
                    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
                    limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Deliveries:
    _one(container, principal, subscription_id)
    with container.engine.connect() as conn:
        rows, next_after = webhook_query.deliveries(conn, subscription_id, after=after, limit=limit)
    return Deliveries(subscription_id=subscription_id, next_after=next_after,
                      deliveries=[Delivery(**row) for row in rows])
