"""Orchestration's aggregates (a site's planning profile, a capacity day, an order; lanes in ``lanes``)
with the decisions that record master data and book, release and cancel orders' plans.

A plan's slots (``plan_slots``) are one apheresis chair at the treating site on the apheresis day
and one manufacturing suite at the plant on every day from the start to the end of manufacturing.
Booking decides on every capacity day it touches: the executor appends the order's event and each
day's ``SlotBooked`` / ``SlotReleased`` in one transaction, expecting the versions it read, so two
bookings racing for the last slot of a day cannot both be stored (the second is decided again and
refused ``SLOT_UNAVAILABLE``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from ..errors import InvalidEvent, StreamNotFound
from ..planning.model import Plan
from ..streams import capacity_stream, order_stream, site_stream
from .base import Envelope, NewEvent, event_of, new_event, refusal, require_aware, validate
from .case import CaseState
from .events_orders import (
    CapacityDeclared,
    OrderCancelled,
    OrderPlanBooked,
    OrderPlanReleased,
    SiteProfileSet,
    SlotBooked,
    SlotRef,
    SlotReleased,
    TherapyOrdered,
)
from .folding import fold
from .plan_rules import require_plan_fits, require_plan_years

MAX_CAPACITY_DAYS = 366
MAX_WINDOW_DAYS = 90

SlotKey = tuple[str, str, date]
"""``(site, resource, local day)``: one capacity day."""


@dataclass(frozen=True)
class SiteProfile:
    stream: UUID | None = None
    version: int = 0
    profile: SiteProfileSet | None = None


@dataclass(frozen=True)
class CapacityDay:
    stream: UUID | None = None
    version: int = 0
    slots: int = 0
    booked: tuple[str, ...] = ()
    """The orders holding a slot of the day (an order holds at most one)."""

    @property
    def free(self) -> int:
        return self.slots - len(self.booked)


@dataclass(frozen=True)
class OrderState:
    stream: UUID | None = None
    version: int = 0
    ordered: TherapyOrdered | None = None
    plan: Plan | None = None
    slots: tuple[SlotKey, ...] = ()
    plans: int = 0
    """How many plans were booked (1: the first; more: re-planned)."""
    cancelled: bool = False

    @property
    def order_id(self) -> str | None:
        return self.ordered.order if self.ordered else None


def _evolve_profile(s: SiteProfile, event: Any, _: Envelope) -> SiteProfile:
    match event:
        case SiteProfileSet():
            return replace(s, profile=event)
    return s


def _evolve_day(s: CapacityDay, event: Any, _: Envelope) -> CapacityDay:
    match event:
        case CapacityDeclared(slots=slots):
            return replace(s, slots=slots)
        case SlotBooked(order=order):
            return replace(s, booked=(*s.booked, order))
        case SlotReleased(order=order) if order in s.booked:
            booked = list(s.booked)
            booked.remove(order)
            return replace(s, booked=tuple(booked))
    return s



def _evolve_order(s: OrderState, event: Any, _: Envelope) -> OrderState:
    match event:
        case TherapyOrdered():
            return replace(s, ordered=event)
        case OrderPlanBooked(plan=plan, slots=slots):
            return replace(s, plan=plan, slots=tuple(key_of(r) for r in slots), plans=s.plans + 1)
        case OrderPlanReleased():
            return replace(s, plan=None, slots=())
        case OrderCancelled():
            return replace(s, plan=None, slots=(), cancelled=True)
    return s


def fold_site_profile(envelopes: Iterable[Envelope]) -> SiteProfile:
    return fold(SiteProfile(), _evolve_profile, envelopes)


def fold_capacity_day(envelopes: Iterable[Envelope]) -> CapacityDay:
    return fold(CapacityDay(), _evolve_day, envelopes)



def fold_order(envelopes: Iterable[Envelope]) -> OrderState:
    return fold(OrderState(), _evolve_order, envelopes)


def key_of(ref: SlotRef | Mapping[str, Any]) -> SlotKey:
    if isinstance(ref, SlotRef):
        return (ref.site, ref.resource, ref.day)
    return (ref["site"], ref["resource"], date.fromisoformat(str(ref["day"])))


def plan_slots(plan: Plan) -> tuple[SlotKey, ...]:
    """The slots a plan holds: the apheresis chair on its day, a manufacturing suite on every day
    from the start to the end of manufacturing (both included)."""
    making = plan.manufacturing
    days = (making.end_day - making.start_day).days + 1
    return ((plan.apheresis.site, "apheresis", plan.apheresis.day),
            *((making.site, "manufacturing", making.start_day + timedelta(days=n)) for n in range(days)))


def capacity_of(key: SlotKey) -> UUID:
    site, resource, day = key
    return capacity_stream(site, resource, day.isoformat())


def _profile(profile: SiteProfile, site: str, needs: str | None = None) -> SiteProfileSet:
    if profile.profile is None:
        raise InvalidEvent(f"site {site} has no planning profile: set it first", code="PROFILE_REQUIRED")
    if needs is not None and needs not in profile.profile.capabilities:
        raise InvalidEvent(f"site {site} has no {needs} capability in its planning profile",
                           code="CAPABILITY_MISSING")
    return profile.profile


def decide_site_profile(current: SiteProfile, *, site: str, capabilities: list[str], tz: str,
                        closed_weekdays: list[int], holidays: list[date], now: datetime) -> list[NewEvent]:
    """Set the site's profile; the profile it already has is refused (``NO_CHANGE``)."""
    require_aware(now)
    profile = validate(SiteProfileSet, site=site, capabilities=capabilities, tz=tz,
                       closed_weekdays=closed_weekdays, holidays=holidays)
    if profile == current.profile:
        raise refusal("NO_CHANGE", f"site {site} already has this profile")
    return [event_of(site_stream(site), profile)]


def decide_capacity(days: Mapping[date, CapacityDay], profile: SiteProfile, *, site: str, resource: str,
                    slots: int, now: datetime) -> list[NewEvent]:
    """Declare ``slots`` for each of ``days`` (unchanged days are left alone)."""
    require_aware(now)
    _profile(profile, site, resource)
    events = []
    for day, state in sorted(days.items()):
        if slots < len(state.booked):
            raise refusal("CAPACITY_BELOW_BOOKED", f"{site} {resource} on {day} has {len(state.booked)} slot(s) "
                                                   f"booked: it cannot have {slots}")
        if state.version == 0 or state.slots != slots:
            events.append(new_event(capacity_stream(site, resource, day.isoformat()), CapacityDeclared,
                                    site=site, resource=resource, day=day, slots=slots))
    if not events:
        raise refusal("NO_CHANGE", f"{site} {resource} already has {slots} slot(s) on each of those days")
    return events


def capacity_days(first: date, last: date) -> list[date]:
    require_plan_years(first, last, code="CAPACITY_RANGE")
    if last < first or (last - first).days >= MAX_CAPACITY_DAYS:
        raise InvalidEvent(f"a capacity range runs forwards over at most {MAX_CAPACITY_DAYS} days",
                           code="CAPACITY_RANGE")
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def decide_order(order: OrderState, case: CaseState, profile: SiteProfile, *, order_id: str, coi: str,
                 product: str, treating_site: str, earliest: date, latest: date, priority: int,
                 now: datetime) -> list[NewEvent]:
    require_aware(now)
    if order.version:
        raise refusal("ORDER_EXISTS", f"order {order_id} exists")
    if latest < earliest or (latest - earliest).days > MAX_WINDOW_DAYS:
        raise InvalidEvent(f"the apheresis window runs forwards over at most {MAX_WINDOW_DAYS} days",
                           code="ORDER_WINDOW")
    require_plan_years(earliest, latest, code="ORDER_WINDOW")
    if (case.role != "patient" or case.coi != coi or case.product != product or case.site != treating_site
            or case.status == "cancelled"):
        raise refusal("ORDER_CASE", f"{coi} is not an enrolled case of {product} treated at {treating_site}")
    _profile(profile, treating_site, "apheresis")
    return [new_event(order_stream(order_id), TherapyOrdered, order=order_id, coi=coi, product=product,
                      treating_site=treating_site, earliest=earliest, latest=latest, priority=priority)]


def require_active(order: OrderState, order_id: str) -> TherapyOrdered:
    if order.ordered is None:
        raise StreamNotFound(f"no order {order_id}", code="ORDER_NOT_FOUND")
    if order.cancelled:
        raise refusal("ORDER_CLOSED", f"order {order_id} is cancelled")
    return order.ordered


def decide_book(order: OrderState, days: Mapping[SlotKey, CapacityDay], *, order_id: str, plan: Plan,
                reason: str | None = None, kept_legs: list[str] | None = None, replaces: Plan | None = None,
                now: datetime) -> list[NewEvent]:
    """Book ``plan`` for the order: release the slots of its current plan the new one does not hold,
    take the new ones (each must be free), and record the plan. ``days``: every capacity day of
    both plans, as read. ``replaces``: the plan a re-plan was computed from; if the order holds
    another by now (a concurrent re-plan), nothing is booked."""
    require_aware(now)
    ordered = require_active(order, order_id)
    if replaces is not None and order.plan != replaces:
        return []
    require_plan_fits(ordered, plan, first=order.plans == 0)
    wanted = plan_slots(plan)
    gone = [key for key in order.slots if key not in wanted]
    taken = [key for key in wanted if key not in order.slots]
    events = [_slot(SlotReleased, key, order_id) for key in gone]
    for key in taken:
        day = days[key]
        if day.free <= 0:
            site, resource, when = key
            raise refusal("SLOT_UNAVAILABLE", f"no {resource} slot is free at {site} on {when}")
        events.append(_slot(SlotBooked, key, order_id))
    refs = [{"site": s, "resource": r, "day": d} for s, r, d in wanted]
    events.append(new_event(order_stream(order_id), OrderPlanBooked, order=order_id,
                            treating_site=ordered.treating_site, plan=plan.model_dump(mode="json"), slots=refs,
                            kept_legs=kept_legs or [], reason=reason))
    return events


def decide_release(order: OrderState, *, order_id: str, reason: str, now: datetime) -> list[NewEvent]:
    require_aware(now)
    require_active(order, order_id)
    if order.plan is None:
        raise refusal("NO_PLAN_HELD", f"order {order_id} holds no plan")
    return [*(_slot(SlotReleased, key, order_id) for key in order.slots),
            new_event(order_stream(order_id), OrderPlanReleased, order=order_id, reason=reason)]


def decide_cancel(order: OrderState, *, order_id: str, reason: str, now: datetime) -> list[NewEvent]:
    require_aware(now)
    require_active(order, order_id)
    return [*(_slot(SlotReleased, key, order_id) for key in order.slots),
            new_event(order_stream(order_id), OrderCancelled, order=order_id, reason=reason)]


def _slot(model: type[SlotBooked] | type[SlotReleased], key: SlotKey, order_id: str) -> NewEvent:
    site, resource, day = key
    return new_event(capacity_of(key), model, site=site, resource=resource, day=day, order=order_id)
