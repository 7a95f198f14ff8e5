"""Re-planning what is left of a booked plan when the case's actual events deviate from it.

``downstream_plan`` keeps the legs already done (apheresis, and the pickup with its actual
arrival) and fits the rest (manufacturing, QC/release, return, infusion window) to the network's
free capacity, with the planner's own time model (``ledger.planning.clock``, ``constraints``).
``ReplanService`` books the result (releasing the slots it no longer holds) or, when nothing
fits, calls the injected ``raise_alert`` port (by default it only logs). A case put on hold (the
patient not fit for infusion, say) raises ``slot_at_risk`` at once; when it resumes, what is not
done yet is planned again from then on and the alert cleared (``clear_alert``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from ..domain.orders import OrderState
from ..planning import clock
from ..planning.greedy import plan_one
from ..planning.model import InfusionWindow, ManufacturingLeg, PickupLeg, Plan, QCReleaseLeg, ReturnLeg
from ..planning.network import MANUFACTURING, Network
from ..planning.options import earliest_return
from .executor import Context, Executor, Step
from .orders import OrderService, order_request
from .steps import as_step

log = logging.getLogger(__name__)

SYSTEM = Context(actor="system")
"""The re-planner acts as the ledger itself (the follower of the log), bound to no site."""


class RaiseAlert(Protocol):
    def __call__(self, *, kind: str, subject: str, sites: list[str], severity: str, message: str) -> None: ...


def log_alert(*, kind: str, subject: str, sites: list[str], severity: str, message: str) -> None:
    """The default alert port: a warning in the service log."""
    log.warning("%s alert %s (%s) at %s: %s", severity, kind, subject, ", ".join(sites), message)


ClearAlert = Callable[[str, str, str], object]
"""``clear_alert(kind, subject, reason)``: the alert's condition ended."""


def log_cleared(kind: str, subject: str, reason: str) -> None:
    """The default port for an alert's end: a line in the service log."""
    log.info("alert %s (%s) cleared: %s", kind, subject, reason)


def downstream_plan(network: Network, order: OrderState, plan: Plan, *, available_at: datetime,
                    fresh: bool = True, arrived_at: datetime | None = None) -> Plan | None:
    """``plan`` with its manufacturing and later legs moved to start when the material is available
    at the plant (``available_at``: a late arrival, or a failed QC's re-manufacture). ``fresh``: the
    start must fall within the cells' fresh shelf life; ``arrived_at``: the pickup's actual arrival,
    kept as the leg done. The slots ``order`` holds count as its own
    (``network`` must be built with them free). None when no start fits."""
    request = order_request(order)
    rules = network.timing(request.product)
    plant = network.sites[plan.manufacturing.site]
    home = network.sites[request.treating_site]
    ready = clock.at(home.tz, plan.apheresis.day, rules.collection_ready)
    until = ready + timedelta(hours=rules.fresh_shelf_life_hours) if fresh else available_at + timedelta(days=14)
    day = clock.day_of(plant.tz, available_at)
    while (starts := clock.at(plant.tz, day, rules.manufacturing_start)) <= until:
        days = [day + timedelta(days=n) for n in range(rules.manufacturing_days)]
        if (starts >= available_at and plant.open_on(day)
                and all(network.capacity.get((plant.id, MANUFACTURING, d), 0) > 0 for d in days)):
            back = earliest_return(network, request, plant.id, days[-1])
            if back is not None:
                released, lane, leaves, arrives, first, last = back
                return Plan(
                    apheresis=plan.apheresis,
                    pickup=PickupLeg(lane=plan.pickup.lane, depart_at=plan.pickup.depart_at,
                                     arrive_at=arrived_at or plan.pickup.arrive_at),
                    manufacturing=ManufacturingLeg(site=plant.id, start_day=day, end_day=days[-1]),
                    qc_release=QCReleaseLeg(site=plant.id, ready_at=released),
                    return_shipment=ReturnLeg(lane=lane.id, depart_at=leaves, arrive_at=arrives),
                    infusion_window=InfusionWindow(site=request.treating_site, from_day=first, to_day=last))
        day += timedelta(days=1)
    return None


def return_plan(network: Network, order: OrderState, plan: Plan, *, not_before: datetime) -> Plan | None:
    """``plan`` with its return shipment and infusion window moved to the earliest departure home at
    or after ``not_before`` (the patient fit for infusion again), the product made and released as
    planned; within the final product's stability. None when no return fits."""
    request = order_request(order)
    back = earliest_return(network, request, plan.manufacturing.site, plan.manufacturing.end_day,
                            not_before=not_before)
    if back is None:
        return None
    _released, lane, leaves, arrives, first, last = back
    return plan.model_copy(update={
        "return_shipment": ReturnLeg(lane=lane.id, depart_at=leaves, arrive_at=arrives),
        "infusion_window": InfusionWindow(site=request.treating_site, from_day=first, to_day=last)})


class ReplanService:
    """Moves a booked order's remaining legs, or raises ``slot_at_risk`` when none fit."""

    def __init__(self, orders: OrderService, raise_alert: RaiseAlert = log_alert,
                 clear_alert: ClearAlert = log_cleared) -> None:
        self.orders = orders
        self.raise_alert = raise_alert
        self.clear_alert = clear_alert

    def on_hold(self, order_id: str, reason: str) -> None:
        """The case was put on hold (e.g. the patient not fit for infusion): the booked plan is at
        risk until the case resumes and is re-planned."""
        order = self.orders.order(order_id)
        if order.plan is None or order.cancelled:
            return
        window = order.plan.infusion_window
        self.raise_alert(kind="slot_at_risk", subject=order_id, sites=self._sites(order.plan), severity="critical",
                         message=f"case on hold ({reason}): the infusion window {window.from_day}..{window.to_day} "
                                 f"of order {order_id} is at risk")

    def resumed(self, network_for: Callable[[str], Network], order_id: str, *, at: datetime,
                done: Collection[str]) -> Plan | None:
        """The case resumed at ``at``: what is not done yet is planned again from then on (the return
        and infusion once manufacturing started, manufacturing on from a collection, all of it
        before one). ``done``: the milestones that happened. None when no plan fits (alerted)."""
        order = self.orders.order(order_id)
        if order.plan is None or order.cancelled or "infused" in done:
            return None
        reason = "case resumed after a hold"
        if "manufacturing_started" in done:
            if "return_shipped" in done:
                return None  # on its way home: nothing left to move
            network = network_for(order_id)
            plan = return_plan(network, order, order.plan, not_before=at)
            kept = ["apheresis", "pickup", "manufacturing", "qc_release"]
        elif "collected" in done:
            moved = self.deviated(network_for, order_id, available_at=at, reason=reason,
                                  kept_legs=["apheresis", "pickup"])
            if moved is not None:
                self.clear_alert("slot_at_risk", order_id, f"{reason}: planned again")
            return moved
        else:
            plan, kept = plan_one(network_for(order_id), order_request(order), not_before=at), []
        if plan is None:
            self.raise_alert(kind="slot_at_risk", subject=order_id, sites=self._sites(order.plan), severity="critical",
                             message=f"{reason}: no plan holds for the remaining legs of order {order_id}")
            return None
        if plan != order.plan:
            self.orders.book(SYSTEM, order_id=order_id, plan=plan, reason=reason, kept_legs=kept,
                             replaces=order.plan)
        self.clear_alert("slot_at_risk", order_id, f"{reason}: planned again")
        return plan

    @staticmethod
    def _sites(plan: Plan) -> list[str]:
        return sorted({plan.apheresis.site, plan.manufacturing.site})

    def deviated(self, network_for: Callable[[str], Network], order_id: str, *, available_at: datetime,
                 reason: str, kept_legs: list[str], fresh: bool = True,
                 arrived_at: datetime | None = None) -> Plan | None:
        """Re-plan ``order_id`` from ``available_at``; ``network_for(order_id)`` is the network with
        the order's own slots free. Returns the plan booked, or None (the alert was raised)."""
        order = self.orders.order(order_id)
        if order.plan is None or order.cancelled:
            return None
        plan = downstream_plan(network_for(order_id), order, order.plan, available_at=available_at, fresh=fresh,
                               arrived_at=arrived_at)
        if plan is None:
            self.raise_alert(kind="slot_at_risk", subject=order_id, sites=self._sites(order.plan), severity="critical",
                             message=f"{reason}: no plan holds for the remaining legs of order {order_id}")
            return None
        self.orders.book(SYSTEM, order_id=order_id, plan=plan, reason=reason, kept_legs=kept_legs,
                         replaces=order.plan)
        return plan


def rebook(executor: Executor, ctx: Context, moves: Mapping[str, Plan], *, reason: str) -> int:
    """Move every order of ``moves`` to its new plan in ONE append: the plans they hold released
    first, then each new one booked (so orders may swap slots); all or nothing. Returns the events
    appended."""
    if not moves:
        return 0
    steps = OrderService(executor, as_step)
    holding = [order_id for order_id in moves if steps.order(order_id).plan is not None]
    batch: list[Step] = [steps.release(ctx, order_id=order_id, reason=reason) for order_id in holding]
    batch += [steps.book(ctx, order_id=order_id, plan=plan, reason=reason) for order_id, plan in moves.items()]
    return sum(len(outcome.result.receipts) for outcome in executor.run_steps(batch, None))
