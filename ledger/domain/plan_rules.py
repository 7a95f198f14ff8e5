"""What makes a plan admissible for an order, before any capacity is looked at: a plan at all
(``NO_PLAN``), the order's own plan with legs in order (``PLAN_MISMATCH``), and one the network
can run (``PLAN_INFEASIBLE``: the rules that ``ledger.planning.constraints`` found broken).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from ..errors import InvalidEvent
from ..planning.model import Plan
from .base import refusal
from .events_orders import TherapyOrdered

MAX_MANUFACTURING_DAYS = 60
MAX_PLAN_DAYS = 366
PLAN_YEARS = range(2000, 9000)


def require_plan_years(*days: date, code: str) -> None:
    """Refuse (``code``) a day outside ``PLAN_YEARS``: planning and figures add weeks to the days
    they are given, which near the calendar's end raises instead of answering."""
    if any(day.year not in PLAN_YEARS for day in days):
        raise InvalidEvent(f"days lie in the years {PLAN_YEARS.start}-{PLAN_YEARS.stop - 1}", code=code)


def require_plan(plan: Plan | None, order_id: str) -> Plan:
    if plan is None:
        raise refusal("NO_PLAN", f"no plan fits order {order_id} in its window")
    return plan


def require_plan_shape(plan: Plan) -> None:
    """Refuse (``PLAN_MISMATCH``) a plan whose manufacturing does not run forwards over at most
    ``MAX_MANUFACTURING_DAYS`` days, or with a leg outside ``MAX_PLAN_DAYS`` after its apheresis
    (or an apheresis outside ``PLAN_YEARS``): checked before any capacity day it names is read, and
    so no time arithmetic on it can run past the calendar's end."""
    span = (plan.manufacturing.end_day - plan.manufacturing.start_day).days
    if not 0 <= span < MAX_MANUFACTURING_DAYS:
        raise InvalidEvent(f"a plan's manufacturing runs forwards over at most {MAX_MANUFACTURING_DAYS} days",
                           code="PLAN_MISMATCH")
    first = plan.apheresis.day
    days = (plan.pickup.depart_at.date(), plan.pickup.arrive_at.date(), plan.manufacturing.start_day,
            plan.manufacturing.end_day, plan.qc_release.ready_at.date(), plan.return_shipment.depart_at.date(),
            plan.return_shipment.arrive_at.date(), plan.infusion_window.from_day, plan.infusion_window.to_day)
    # a day's slack before: a leg's UTC date may precede the local apheresis day east of UTC
    if first.year not in PLAN_YEARS or not all(
            first - timedelta(days=1) <= day <= first + timedelta(days=MAX_PLAN_DAYS) for day in days):
        raise InvalidEvent(f"a plan's legs lie within {MAX_PLAN_DAYS} days after its apheresis, in the years "
                           f"{PLAN_YEARS.start}-{PLAN_YEARS.stop - 1}", code="PLAN_MISMATCH")


def require_plan_fits(ordered: TherapyOrdered, plan: Plan, *, first: bool) -> None:
    """A plan for this order: apheresis at its treating site (in its window for a first plan),
    the return to it, and legs in order."""
    require_plan_shape(plan)
    wrong = []
    if plan.apheresis.site != ordered.treating_site or plan.infusion_window.site != ordered.treating_site:
        wrong.append("apheresis and infusion are at the treating site")
    if first and not ordered.earliest <= plan.apheresis.day <= ordered.latest:
        wrong.append("apheresis is within the order's window")
    if plan.manufacturing.site != plan.qc_release.site:
        wrong.append("QC/release is at the plant")
    if not (plan.apheresis.day <= plan.manufacturing.start_day
            and plan.pickup.depart_at <= plan.pickup.arrive_at <= plan.return_shipment.depart_at
            and plan.qc_release.ready_at <= plan.return_shipment.depart_at <= plan.return_shipment.arrive_at
            and plan.infusion_window.from_day <= plan.infusion_window.to_day):
        wrong.append("the legs follow each other")
    if wrong:
        raise InvalidEvent(f"not a plan for order {ordered.order}: it must hold that {'; '.join(wrong)}",
                           code="PLAN_MISMATCH")


def require_feasible(order_id: str, broken: Sequence[str]) -> None:
    """Refuse (``PLAN_INFEASIBLE``) a plan the network cannot run, naming every broken rule
    (a lane, its cut-off or transit time, a calendar, a shelf life, the product's timing)."""
    if broken:
        raise InvalidEvent(f"the plan for order {order_id} cannot run: {'; '.join(broken)}"[:2000],
                           code="PLAN_INFEASIBLE")
