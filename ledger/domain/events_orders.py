"""Event data of orchestration: the network's master data (site planning profiles, capacity per
site, resource and local day, courier lanes) and therapy orders with the slots their plans hold.

Master data is recorded by an administrator or a program manager; orders by a clinician of the
treating site or a program manager. None is posted through ``POST /v1/events``: each has its own
route, and a slot is booked or released only together with its order's event, in one append
(``ledger.domain.orders``). None is e-signed, none is corrected (a change is a new event: a new
profile, a new capacity, a new plan).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, Field

from ..datatypes import EventData, Identifier
from ..planning.model import Plan
from ..planning.network import CAPABILITIES, RESOURCES
from .events_case import CoiId, Name, Reason
from .spec import UNSIGNED, EventSpec, NotExported

Capability = Literal["apheresis", "manufacturing", "qc", "infusion"]
Resource = Literal["apheresis", "manufacturing"]
assert set(Capability.__args__) == set(CAPABILITIES)  # type: ignore[attr-defined]  # noqa: S101
assert set(Resource.__args__) == set(RESOURCES)  # type: ignore[attr-defined]  # noqa: S101

Weekday = Annotated[int, Field(ge=0, le=6)]
"""``date.weekday()``: Monday 0 ... Sunday 6."""
Slots = Annotated[int, Field(ge=0, le=1000)]
Priority = Annotated[int, Field(ge=0, le=9)]
TransitHours = Annotated[float, Field(gt=0, le=24 * 14)]
LocalTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
"""A wall-clock time ``HH:MM`` in a site's own time zone."""


def _zone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError("not an IANA time zone name (e.g. Europe/Amsterdam)")
    return value


def _sorted_unique(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("values must not repeat")
    return sorted(values)


_ZONES = frozenset(available_timezones())
TimeZone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_zone)]


class SiteProfileSet(EventData):
    """A registered site's planning profile (on its site stream): what it does, its time zone and
    its calendar. The latest profile is in force."""

    site: Identifier
    capabilities: Annotated[list[Capability], Field(min_length=1, max_length=4), AfterValidator(_sorted_unique)]
    tz: TimeZone
    closed_weekdays: Annotated[list[Weekday], Field(max_length=7), AfterValidator(_sorted_unique)] = [5, 6]
    holidays: Annotated[list[date], Field(max_length=400), AfterValidator(_sorted_unique)] = []


class CapacityDeclared(EventData):
    """How many slots a site's resource has on one local day (on that day's capacity stream); the
    latest declaration is in force. Fewer slots than are booked refuses (``CAPACITY_BELOW_BOOKED``)."""

    site: Identifier
    resource: Resource
    day: date
    slots: Slots


class LaneDefined(EventData):
    """A courier lane (on its lane stream): departs at ``cutoff`` origin local time on ``days``,
    arrives ``transit_hours`` later. Defined again to change it."""

    lane: Identifier
    origin: Identifier
    destination: Identifier
    transit_hours: TransitHours
    cutoff: LocalTime
    days: Annotated[list[Weekday], Field(min_length=1, max_length=7), AfterValidator(_sorted_unique)] = [0, 1, 2, 3, 4]


class TherapyOrdered(EventData):
    """A therapy ordered for an enrolled case: apheresis wanted between ``earliest`` and ``latest``
    (treating site's local days)."""

    order: Identifier
    coi: CoiId
    product: Name
    treating_site: Identifier
    earliest: date
    latest: date
    priority: Priority = 0


class SlotRef(EventData):
    """One slot a plan holds: a site's resource on one local day."""

    site: Identifier
    resource: Resource
    day: date


class OrderPlanBooked(EventData):
    """The plan the order now holds, and its slots (booked in the same append). ``reason`` says why
    a plan was replaced (late delivery, a failed QC, a re-plan of the book); none for the first."""

    order: Identifier
    treating_site: Identifier
    plan: Plan
    slots: Annotated[list[SlotRef], Field(min_length=1, max_length=100)]
    kept_legs: Annotated[list[Literal["apheresis", "pickup", "manufacturing", "qc_release", "return_shipment"]],
                         Field(max_length=5)] = []
    reason: Reason | None = None


class OrderPlanReleased(EventData):
    """The order gave up its plan: its slots are released (in the same append)."""

    order: Identifier
    reason: Reason


class OrderCancelled(EventData):
    order: Identifier
    reason: Reason


class SlotBooked(EventData):
    """One slot of a capacity day taken by an order (appended with the order's plan)."""

    site: Identifier
    resource: Resource
    day: date
    order: Identifier


class SlotReleased(EventData):
    site: Identifier
    resource: Resource
    day: date
    order: Identifier


ORDER_EVENTS: dict[str, type[EventData]] = {
    m.__name__: m
    for m in (SiteProfileSet, CapacityDeclared, LaneDefined, TherapyOrdered, OrderPlanBooked, OrderPlanReleased,
              OrderCancelled, SlotBooked, SlotReleased)
}

MASTER_DATA_ROLES = ("admin", "program_manager")
ORDER_ROLES = ("clinician", "program_manager")
PLANNING = NotExported("planning master data and orders: intentions, not supply-chain visibility")


def _plan_sites(d: OrderPlanBooked) -> tuple[str, ...]:
    return (d.treating_site, *dict.fromkeys(s.site for s in d.slots))


ORDER_SPECS: tuple[EventSpec[Any], ...] = (
    EventSpec(SiteProfileSet, MASTER_DATA_ROLES, lambda d: f"site {d.site} planning profile set "
                                                           f"({', '.join(d.capabilities)}; {d.tz})",
              PLANNING, sites=lambda d: (d.site,), correctable=False, signature=UNSIGNED),
    EventSpec(CapacityDeclared, MASTER_DATA_ROLES, lambda d: f"{d.site} {d.resource} capacity on {d.day}: "
                                                             f"{d.slots} slot(s)",
              PLANNING, sites=lambda d: (d.site,), correctable=False, signature=UNSIGNED),
    EventSpec(LaneDefined, MASTER_DATA_ROLES, lambda d: f"lane {d.lane} {d.origin} -> {d.destination} "
                                                        f"defined (cut-off {d.cutoff})",
              PLANNING, sites=lambda d: (d.origin, d.destination), correctable=False, signature=UNSIGNED),
    EventSpec(TherapyOrdered, ORDER_ROLES, lambda d: f"order {d.order} for {d.coi} ({d.product}) at "
                                                     f"{d.treating_site}, apheresis {d.earliest}..{d.latest}",
              PLANNING, sites=lambda d: (d.treating_site,), correctable=False, signature=UNSIGNED),
    EventSpec(OrderPlanBooked, ORDER_ROLES, lambda d: f"order {d.order} plan booked ({len(d.slots)} slot(s))"
                                                      + (f": {d.reason}" if d.reason else ""),
              PLANNING, sites=_plan_sites, correctable=False, signature=UNSIGNED),
    EventSpec(OrderPlanReleased, ORDER_ROLES, lambda d: f"order {d.order} plan released: {d.reason}",
              PLANNING, correctable=False, signature=UNSIGNED),
    EventSpec(OrderCancelled, ORDER_ROLES, lambda d: f"order {d.order} cancelled: {d.reason}",
              PLANNING, correctable=False, signature=UNSIGNED),
    EventSpec(SlotBooked, ORDER_ROLES, lambda d: f"{d.site} {d.resource} slot on {d.day} booked by {d.order}",
              PLANNING, sites=lambda d: (d.site,), correctable=False, signature=UNSIGNED),
    EventSpec(SlotReleased, ORDER_ROLES, lambda d: f"{d.site} {d.resource} slot on {d.day} released by {d.order}",
              PLANNING, sites=lambda d: (d.site,), correctable=False, signature=UNSIGNED),
)
