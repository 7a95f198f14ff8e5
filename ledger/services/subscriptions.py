"""Webhook subscriptions: create, pause, resume, delete and replay, each an event on the
subscription's stream (``streams.subscription_stream``), so every change is in the audit trail.

Who may manage them is the route's to check (``api.policy``: ``manage_subscriptions``); a
principal manages only its own subscriptions unless it is an admin. The subscription is bounded
by what its owner may read (``owner_sites`` / ``owner_reads_all``, given by the route from the
owner's read scope), and its site filter may name only sites the owner reads.

A subscription's stream is judged by its owner, not by sites: only its owner (or an admin)
changes it, checked here; so its events are appended without the site scope of writes
(``ledger.services.scope``), which would judge a stream that names no site.
"""

from __future__ import annotations

import secrets as random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..domain.base import new_event
from ..domain.catalogue import DOMAIN_EVENTS
from ..domain.events_webhooks import (
    SubscriptionCreated,
    SubscriptionDeleted,
    SubscriptionPaused,
    SubscriptionReplayRequested,
    SubscriptionResumed,
)
from ..errors import Forbidden, InvalidEvent, LedgerError
from ..streams import subscription_stream
from ..webhooks.matching import NEVER_SENT, STAFF_RECORDS
from ..webhooks.secrets import SecretBox, new_secret
from ..webhooks.targets import resolve
from .executor import Context, Executor, Outcome, Reads, Step


class SubscriptionNotFound(LedgerError):
    code = "SUBSCRIPTION_NOT_FOUND"
    status = 404


class SubscriptionDeletedError(LedgerError):
    code = "SUBSCRIPTION_DELETED"
    status = 409


class SubscriptionPausedError(LedgerError):
    code = "SUBSCRIPTION_PAUSED"
    status = 409


class SubscriptionNotPaused(LedgerError):
    code = "SUBSCRIPTION_NOT_PAUSED"
    status = 409


@dataclass(frozen=True)
class Owner:
    """Who manages a subscription and what they may read."""

    id: str
    sites: tuple[str, ...]
    reads_all: bool
    admin: bool = False


@dataclass(frozen=True)
class SubscriptionState:
    subscription_id: str
    owner: str
    status: str  # active | paused | deleted


def state_of(subscription_id: str, envelopes: Iterable[Mapping[str, Any]]) -> SubscriptionState | None:
    state = None
    for env in envelopes:
        match env["type"]:
            case SubscriptionCreated.__name__:
                state = SubscriptionState(subscription_id, env["data"]["owner"], "active")
            case SubscriptionPaused.__name__ if state:
                state = SubscriptionState(subscription_id, state.owner, "paused")
            case SubscriptionResumed.__name__ if state:
                state = SubscriptionState(subscription_id, state.owner, "active")
            case SubscriptionDeleted.__name__ if state:
                state = SubscriptionState(subscription_id, state.owner, "deleted")
    return state


def new_subscription_id() -> str:
    return "sub_" + random.token_hex(16)


class SubscriptionService:
    def __init__(self, executor: Executor, box: SecretBox, *, allow_private: bool = False) -> None:
        self.executor, self.box, self.allow_private = executor, box, allow_private

    def create(self, ctx: Context, owner: Owner, *, url: str, event_types: list[str], sites: list[str],
               cois: list[str], min_severity: str | None) -> tuple[Outcome, str, str]:
        """``(outcome, subscription id, secret)``: the secret is in no event and shown only now."""
        resolve(url, allow_private=self.allow_private)  # WEBHOOK_URL_INVALID / WEBHOOK_URL_FORBIDDEN
        unknown = sorted(t for t in set(event_types) if t not in DOMAIN_EVENTS or t in NEVER_SENT)
        if unknown:
            raise InvalidEvent(f"no such event type to subscribe to: {', '.join(unknown)}",
                               code="UNKNOWN_EVENT_TYPE")
        if not owner.reads_all:
            staff = sorted(set(event_types) & STAFF_RECORDS)
            if staff:
                raise Forbidden(f"{owner.id} may not read staff records: {', '.join(staff)}", code="SITE_FORBIDDEN")
            outside = sorted(set(sites) - set(owner.sites))
            if outside:
                raise Forbidden(f"{owner.id} may not read site(s) {', '.join(outside)}", code="SITE_FORBIDDEN")
        subscription_id, secret = new_subscription_id(), new_secret()
        sealed = self.box.seal(subscription_id, secret)
        stream = subscription_stream(subscription_id)

        def decide(_reads: Reads, _now: datetime, _actor: str):
            return [new_event(stream, SubscriptionCreated, subscription_id=subscription_id, url=url,
                              event_types=sorted(set(event_types)), sites=sorted(set(sites)),
                              cois=sorted(set(cois)), min_severity=min_severity, owner=owner.id,
                              owner_sites=sorted(owner.sites), owner_reads_all=owner.reads_all,
                              secret_sealed=sealed)]

        outcome = self.executor.run(Step(replace(ctx, scope=()), decide,
                                         answer=lambda _e: {"subscription_id": subscription_id}))
        return outcome, subscription_id, secret

    def state(self, subscription_id: str, owner: Owner) -> SubscriptionState:
        """The subscription, if ``owner`` may manage it (its own, or any for an admin); else 404."""
        found = state_of(subscription_id, Reads(self.executor.ledger).envelopes(subscription_stream(subscription_id)))
        if found is None or not (owner.admin or found.owner == owner.id):
            raise SubscriptionNotFound(f"no subscription {subscription_id!r}")
        return found

    def _change(self, ctx: Context, owner: Owner, subscription_id: str, model: type, allowed: tuple[str, ...],
                **fields: Any) -> Outcome:
        stream = subscription_stream(subscription_id)

        def decide(reads: Reads, _now: datetime, _actor: str):
            found = state_of(subscription_id, reads.envelopes(stream))
            if found is None or not (owner.admin or found.owner == owner.id):
                raise SubscriptionNotFound(f"no subscription {subscription_id!r}")
            if found.status not in allowed:
                raise {"deleted": SubscriptionDeletedError(f"subscription {subscription_id} is deleted"),
                       "paused": SubscriptionPausedError(f"subscription {subscription_id} is paused"),
                       "active": SubscriptionNotPaused(f"subscription {subscription_id} is not paused")}[found.status]
            return [new_event(stream, model, subscription_id=subscription_id, **fields)]

        return self.executor.run(Step(replace(ctx, scope=()), decide))

    def pause(self, ctx: Context, owner: Owner, subscription_id: str, reason: str | None = None) -> Outcome:
        return self._change(ctx, owner, subscription_id, SubscriptionPaused, ("active",), reason=reason)

    def resume(self, ctx: Context, owner: Owner, subscription_id: str) -> Outcome:
        return self._change(ctx, owner, subscription_id, SubscriptionResumed, ("paused",))

    def delete(self, ctx: Context, owner: Owner, subscription_id: str, reason: str | None = None) -> Outcome:
        return self._change(ctx, owner, subscription_id, SubscriptionDeleted, ("active", "paused"), reason=reason)

    def replay(self, ctx: Context, owner: Owner, subscription_id: str, from_position: int) -> Outcome:
        return self._change(ctx, owner, subscription_id, SubscriptionReplayRequested, ("active", "paused"),
                            from_position=from_position)
