"""The fast planner: one order's earliest feasible plan, given the slots other plans already use."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from .constraints import Slot, check_plan
from .model import Plan
from .network import Network, OrderRequest
from .options import apheresis_days, day_options, earliness


def plan_one(network: Network, order: OrderRequest, *, not_before: datetime | None = None,
             used: Mapping[Slot, int] | None = None) -> Plan | None:
    """The plan with the earliest apheresis day, and on that day the earliest infusion, that fits.

    ``used`` counts slots already taken per (site, resource, local day); ``not_before`` bounds the
    cells' ready time from below (e.g. re-planning after a delay). Returns ``None`` when no day of the
    order's window has a route with free slots. The returned plan passes ``constraints.check_plan``.
    """
    taken = used or {}

    def fits(slot: Slot) -> bool:
        return taken.get(slot, 0) < network.capacity.get(slot, 0)

    for day in apheresis_days(network, order, not_before):
        for option in sorted(day_options(network, order, day, fits), key=earliness):
            plan = option.plan(order.treating_site)
            if not check_plan(network, order, plan, used=taken, not_before=not_before):
                return plan
    return None
