"""Event data of webhook subscriptions (one stream per subscription, ``streams.subscription_stream``).

A subscription says where to send which events (``url``, ``event_types``) and narrows them with
filters (``sites``, ``cois``, ``min_severity``). It is owned by the admin or integrator who
created it and is bounded by what that owner may read, taken when it was created
(``owner_sites``; ``owner_reads_all`` for an owner bound to no site who reads every case): an
event the owner could not read is never queued for it. Its signing secret (Standard Webhooks,
``whsec_...``) is shown once, in the answer to its creation; the event keeps it only sealed
(AES-GCM under the server's webhook key, ``ledger.webhooks.secrets``), never in clear.

Pausing stops deliveries (events keep being queued); deleting ends the subscription for good; a
replay request queues again what was already delivered from a log position on. All are written
by the subscriptions route (``api/routes/subscriptions.py``), so each is in the audit trail.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from ..datatypes import EventData, Identifier
from .events_case import CoiId, Position, Reason
from .spec import UNSIGNED, EventSpec, NotExported

Severity = Literal["info", "warning", "critical"]
SEVERITY_ORDER: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
"""``info`` < ``warning`` < ``critical`` (an event's data field ``severity``, where it has one)."""

WebhookUrl = Annotated[str, Field(min_length=8, max_length=2000, pattern=r"^[!-~]+$")]
"""Printable ASCII without spaces (checked again, with the reason, by ``ledger.webhooks.targets``)."""
SubscriptionId = Annotated[str, Field(pattern=r"^sub_[0-9a-f]{32}$")]


class SubscriptionCreated(EventData):
    subscription_id: SubscriptionId
    url: WebhookUrl
    event_types: Annotated[list[Identifier], Field(min_length=1, max_length=200)]
    sites: Annotated[list[Identifier], Field(max_length=100)] = []
    """Only events that involve one of these sites (none: every site the owner may read)."""
    cois: Annotated[list[CoiId], Field(max_length=1000)] = []
    """Only events of these cases (none: every case the owner may read)."""
    min_severity: Severity | None = None
    owner: Identifier
    owner_sites: Annotated[list[Identifier], Field(max_length=100)] = []
    owner_reads_all: bool = False
    secret_sealed: Annotated[str, Field(min_length=16, max_length=400)]
    """The signing secret sealed with the server's webhook key (base64 nonce + AES-GCM ciphertext)."""


class SubscriptionPaused(EventData):
    subscription_id: SubscriptionId
    reason: Reason | None = None


class SubscriptionResumed(EventData):
    subscription_id: SubscriptionId


class SubscriptionDeleted(EventData):
    subscription_id: SubscriptionId
    reason: Reason | None = None


class SubscriptionReplayRequested(EventData):
    """Deliver again, from ``from_position`` on, what was queued for the subscription."""

    subscription_id: SubscriptionId
    from_position: Position


WEBHOOK_EVENTS: dict[str, type[EventData]] = {
    m.__name__: m for m in (SubscriptionCreated, SubscriptionPaused, SubscriptionResumed, SubscriptionDeleted,
                            SubscriptionReplayRequested)
}

SUBSCRIPTION = NotExported("a webhook subscription of the ledger's own operation, not a supply-chain event")

WEBHOOK_SPECS: tuple[EventSpec[Any], ...] = (
    EventSpec(SubscriptionCreated, (),
              lambda d: f"webhook subscription {d.subscription_id} created for {len(d.event_types)} event type(s)",
              SUBSCRIPTION, signature=UNSIGNED, correctable=False),
    EventSpec(SubscriptionPaused, (), lambda d: f"webhook subscription {d.subscription_id} paused", SUBSCRIPTION,
              signature=UNSIGNED, correctable=False),
    EventSpec(SubscriptionResumed, (), lambda d: f"webhook subscription {d.subscription_id} resumed",
              SUBSCRIPTION, signature=UNSIGNED, correctable=False),
    EventSpec(SubscriptionDeleted, (), lambda d: f"webhook subscription {d.subscription_id} deleted",
              SUBSCRIPTION, signature=UNSIGNED, correctable=False),
    EventSpec(SubscriptionReplayRequested, (),
              lambda d: f"webhook subscription {d.subscription_id}: replay from position {d.from_position}",
              SUBSCRIPTION, signature=UNSIGNED, correctable=False),
)
