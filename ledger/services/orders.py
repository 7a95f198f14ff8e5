"""Orchestration's use cases: master data (site planning profiles, capacity, lanes) and therapy
orders (placed, planned, booked, released, cancelled), over the decisions of
``ledger.domain.orders``.

Proposing a plan writes nothing: the planner (an injected port, by default
``ledger.planning.greedy.plan_one``) is given the network as the read model knows it and the
order. Booking is decided against the capacity days themselves, not the read model: the append
expects each day's version, so the read model may lag without ever causing an overbooking.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, datetime
from typing import Protocol, TypeVar

from ..domain.lanes import decide_lane, fold_lane
from ..domain.orders import (
    OrderState,
    SlotKey,
    capacity_days,
    capacity_of,
    decide_book,
    decide_cancel,
    decide_capacity,
    decide_order,
    decide_release,
    decide_site_profile,
    fold_capacity_day,
    fold_order,
    fold_site_profile,
    plan_slots,
)
from ..domain.plan_rules import require_plan_shape
from ..domain.product_timing import timing_rules
from ..planning.model import Plan
from ..planning.network import Network, OrderRequest, TimingRules
from ..streams import capacity_stream, case_stream, lane_stream, order_stream, site_stream
from .executor import Context, Executor, Reads, Step
from .quality import product_spec
from .steps import Commands

R = TypeVar("R")


class Planner(Protocol):
    def __call__(self, network: Network, order: OrderRequest, *, not_before: datetime | None = None) -> Plan | None:
        ...


def greedy_planner(network: Network, order: OrderRequest, *, not_before: datetime | None = None) -> Plan | None:
    """The house planner (imported when first used: it is pure code in ``ledger.planning``)."""
    from ..planning.greedy import plan_one

    return plan_one(network, order, not_before=not_before)


def order_request(order: OrderState) -> OrderRequest:
    ordered = order.ordered
    assert ordered is not None  # noqa: S101 - callers passed require_active
    return OrderRequest(id=ordered.order, coi=ordered.coi, treating_site=ordered.treating_site,
                        product=ordered.product, earliest=ordered.earliest, latest=ordered.latest,
                        priority=ordered.priority)


def booking_scope(ctx: Context, slots: Iterable[SlotKey]) -> Context:
    """A booking (or release) is authorised at the order's treating site (the route checks it); the
    capacity days it takes or gives back at the plant are the network's shared capacity, so a
    site-bound booker's scope is widened to the sites of those slots for this one step."""
    if not ctx.scope:
        return ctx
    sites = tuple(dict.fromkeys(site for site, _, _ in slots))
    return replace(ctx, scope=tuple(dict.fromkeys((*ctx.scope, *sites))))


class OrderService(Commands[R]):
    def __init__(self, executor: Executor, run: Callable[[Step], R] | None = None) -> None:
        super().__init__(executor, run or executor.run)  # type: ignore[arg-type]

    # -- reads ---------------------------------------------------------------------------------

    def order(self, order_id: str) -> OrderState:
        return fold_order(Reads(self.executor.ledger).envelopes(order_stream(order_id)))

    def timing(self, product: str) -> TimingRules:
        """The product's timing rules, from its specification in force."""
        return timing_rules(product_spec(Reads(self.executor.ledger), product).in_force)

    # -- master data ---------------------------------------------------------------------------

    def set_site_profile(self, ctx: Context, *, site: str, capabilities: list[str], tz: str,
                         closed_weekdays: list[int], holidays: list[date]) -> R:
        """A registered site's planning profile (capabilities, time zone, calendar)."""
        return self.command(ctx, lambda r, now, actor: decide_site_profile(
            fold_site_profile(r.envelopes(site_stream(site))), site=site, capabilities=capabilities, tz=tz,
            closed_weekdays=closed_weekdays, holidays=holidays, now=now), answer=lambda _: {"site": site})

    def declare_capacity(self, ctx: Context, *, site: str, resource: str, first: date, last: date,
                         slots: int) -> R:
        """``slots`` of ``resource`` at ``site`` on every local day from ``first`` to ``last``."""
        days = capacity_days(first, last)

        def decide(reads: Reads, now: datetime, actor: str):
            states = {day: fold_capacity_day(reads.envelopes(capacity_stream(site, resource, day.isoformat())))
                      for day in days}
            return decide_capacity(states, fold_site_profile(reads.envelopes(site_stream(site))), site=site,
                                   resource=resource, slots=slots, now=now)

        return self.command(ctx, decide, answer=lambda events: {"days": len(days), "changed": len(events)})

    def define_lane(self, ctx: Context, *, lane: str, origin: str, destination: str, transit_hours: float,
                    cutoff: str, days: list[int]) -> R:
        """A courier lane (defined again to change it)."""
        return self.command(ctx, lambda r, now, actor: decide_lane(
            fold_lane(r.envelopes(lane_stream(lane))), fold_site_profile(r.envelopes(site_stream(origin))),
            fold_site_profile(r.envelopes(site_stream(destination))),
            lane=lane, origin_site=origin, destination_site=destination, transit_hours=transit_hours, cutoff=cutoff,
            days=days, now=now), answer=lambda _: {"lane": lane})

    # -- orders --------------------------------------------------------------------------------

    def place(self, ctx: Context, *, order_id: str, coi: str, product: str, treating_site: str, earliest: date,
              latest: date, priority: int = 0) -> R:
        """A therapy ordered for an enrolled case of ``product`` treated at ``treating_site``."""
        return self.command(ctx, lambda r, now, actor: decide_order(
            fold_order(r.envelopes(order_stream(order_id))), r.case(case_stream(coi)),
            fold_site_profile(r.envelopes(site_stream(treating_site))), order_id=order_id, coi=coi, product=product,
            treating_site=treating_site, earliest=earliest, latest=latest, priority=priority, now=now),
            answer=lambda _: {"order": order_id})

    def book(self, ctx: Context, *, order_id: str, plan: Plan, reason: str | None = None,
             kept_legs: list[str] | None = None, replaces: Plan | None = None) -> R:
        """Book ``plan``: its slots taken (each free), the order's previous slots it no longer
        holds released, the plan recorded; all in one append (``SLOT_UNAVAILABLE`` if a slot
        went meanwhile)."""
        require_plan_shape(plan)  # bounds the capacity days read below

        def decide(reads: Reads, now: datetime, actor: str):
            order = fold_order(reads.envelopes(order_stream(order_id)))
            keys: list[SlotKey] = list(dict.fromkeys((*order.slots, *plan_slots(plan))))
            days = {key: fold_capacity_day(reads.envelopes(capacity_of(key))) for key in keys}
            return decide_book(order, days, order_id=order_id, plan=plan, reason=reason, kept_legs=kept_legs,
                               replaces=replaces, now=now)

        scope = booking_scope(ctx, (*self.order(order_id).slots, *plan_slots(plan)))
        return self.command(scope, decide, answer=lambda _: {"order": order_id})

    def release(self, ctx: Context, *, order_id: str, reason: str) -> R:
        """Give up the order's plan: its slots are released."""
        return self.command(booking_scope(ctx, self.order(order_id).slots), lambda r, now, actor: decide_release(
            fold_order(r.envelopes(order_stream(order_id))), order_id=order_id, reason=reason, now=now),
            answer=lambda _: {"order": order_id})

    def cancel(self, ctx: Context, *, order_id: str, reason: str) -> R:
        """Cancel the order; its slots are released."""
        return self.command(booking_scope(ctx, self.order(order_id).slots), lambda r, now, actor: decide_cancel(
            fold_order(r.envelopes(order_stream(order_id))), order_id=order_id, reason=reason, now=now),
            answer=lambda _: {"order": order_id})


def proposal(network: Network, order: OrderState, planner: Planner, *,
             not_before: datetime | None = None) -> Plan | None:
    """The planner's plan for ``order`` over ``network`` (None: none fits)."""
    return planner(network, order_request(order), not_before=not_before)

