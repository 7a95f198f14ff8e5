"""Alerts: conditions that need a person now (an excursion, a handover nobody took, a unit about to
expire, a late shipment, a manufacturing slot at risk), raised and cleared by the ledger itself.

An alert lives on its own stream (``ledger.streams.alert_stream``), whose id follows from the
alert's kind and subject (:func:`alert_id`), so one condition has one stream: two workers racing to
raise it meet on the stream version and only one append wins. ``cause`` names what raised or
cleared it (the event id that started the timer, or the caller's key), so a timer fired again
after a crash raises nothing twice. Neither event carries patient data: the subject is a label,
tracking number or order id and the case only by its pseudonymous COI. No role records them
through ``POST /v1/events`` (``roles=()``); ``ledger.services.alerts`` writes them as ``system``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from ..datatypes import EventData, Identifier, UtcTime
from .events_case import CoiId
from .spec import UNSIGNED, EventSpec, NotExported

AlertKind = Literal["excursion", "handover_unacknowledged", "near_expiry", "shipment_late", "slot_at_risk"]
ALERT_KINDS: tuple[str, ...] = AlertKind.__args__  # type: ignore[attr-defined]
AlertSeverity = Literal["info", "warning", "critical"]
AlertMessage = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]+$")]
AlertSites = Annotated[list[Identifier], Field(max_length=20)]


def alert_id(kind: str, subject: str) -> str:
    """The one id of the condition ``kind`` on ``subject`` (its stream follows from it)."""
    return f"{kind}:{subject}"


class AlertRaised(EventData):
    """A condition that needs a person; open until ``AlertCleared``."""

    alert_id: Annotated[str, Field(min_length=3, max_length=200)]
    kind: AlertKind
    subject: Identifier  # a unit label, a shipment's tracking number, an order id
    coi: CoiId | None = None
    sites: AlertSites = []  # the sites it concerns: who may see it, whom it is sent to
    severity: AlertSeverity
    message: AlertMessage
    due_at: UtcTime | None = None  # when a timer raised it: the time it was due
    cause: Identifier  # the event id (or caller's key) that raised it: fired once per cause


class AlertCleared(EventData):
    """The condition ended (acknowledged, delivered, assessed, consumed ...)."""

    alert_id: Annotated[str, Field(min_length=3, max_length=200)]
    kind: AlertKind
    subject: Identifier
    reason: AlertMessage
    cause: Identifier


Email = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$")]


class UserContactSet(EventData):
    """The address a member of staff is sent the alerts of their sites at (``None``: no mail);
    recorded by an administrator on the user's stream. Staff contact only, never a patient's."""

    user: Identifier
    email: Email | None = None


ALERT_EVENTS: dict[str, type[EventData]] = {m.__name__: m for m in (AlertRaised, AlertCleared, UserContactSet)}

NOT_SUPPLY_CHAIN = NotExported("an operational notice to people, not a supply-chain event")

ALERT_SPECS: tuple[EventSpec[Any], ...] = (
    EventSpec(AlertRaised, (), lambda d: f"alert {d.kind} raised ({d.severity}) for {d.subject}: {d.message}",
              NOT_SUPPLY_CHAIN, signature=UNSIGNED, sites=lambda d: tuple(d.sites), correctable=False),
    EventSpec(AlertCleared, (), lambda d: f"alert {d.kind} cleared for {d.subject}: {d.reason}",
              NOT_SUPPLY_CHAIN, signature=UNSIGNED, correctable=False),
    EventSpec(UserContactSet, (), lambda d: f"alert e-mail of {d.user} " + ("set" if d.email else "removed"),
              NotExported("identity administration"), signature=UNSIGNED, correctable=False),
)
