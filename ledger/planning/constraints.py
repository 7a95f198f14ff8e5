"""The constraints a plan, and a book of plans, must satisfy; each broken one is a named ``Violation``.

Stated in the time model of ``network``. ``check_plan`` checks one order's plan on its own (and,
given the slots already taken, its capacity); ``check_book`` checks a set of plans together,
including capacity per (site, resource, day) summed across all of them. The planners never trust
themselves: every plan they return passes ``check_plan``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from . import clock
from .model import Plan
from .network import APHERESIS, INFUSION, MANUFACTURING, QC, Lane, Network, OrderRequest

Slot = tuple[str, str, date]
"""(site, resource, local day): one unit of a per-day capacity."""

# Rule names: stable, used in reports, tests and the re-planner's reasons.
APHERESIS_SITE = "apheresis.site"
APHERESIS_WINDOW = "apheresis.window"
APHERESIS_CLOSED = "apheresis.closed"
PICKUP_LANE = "pickup.lane"
PICKUP_SCHEDULE = "pickup.schedule"
PICKUP_BEFORE_READY = "pickup.before_ready"
PICKUP_TRANSIT = "pickup.transit"
MANUFACTURING_SITE = "manufacturing.site"
MANUFACTURING_CLOSED = "manufacturing.closed"
MANUFACTURING_BEFORE_ARRIVAL = "manufacturing.before_arrival"
MANUFACTURING_SHELF_LIFE = "manufacturing.shelf_life"
MANUFACTURING_DAYS = "manufacturing.days"
QC_SITE = "qc.site"
QC_HOURS = "qc.hours"
RETURN_LANE = "return.lane"
RETURN_SCHEDULE = "return.schedule"
RETURN_BEFORE_RELEASE = "return.before_release"
RETURN_TRANSIT = "return.transit"
INFUSION_SITE = "infusion.site"
INFUSION_START = "infusion.start"
INFUSION_LENGTH = "infusion.length"
INFUSION_STABILITY = "infusion.stability"
CAPACITY = "capacity"
NOT_BEFORE = "not_before"

RULES = (
    APHERESIS_SITE, APHERESIS_WINDOW, APHERESIS_CLOSED, PICKUP_LANE, PICKUP_SCHEDULE, PICKUP_BEFORE_READY,
    PICKUP_TRANSIT, MANUFACTURING_SITE, MANUFACTURING_CLOSED, MANUFACTURING_BEFORE_ARRIVAL,
    MANUFACTURING_SHELF_LIFE, MANUFACTURING_DAYS, QC_SITE, QC_HOURS, RETURN_LANE, RETURN_SCHEDULE,
    RETURN_BEFORE_RELEASE, RETURN_TRANSIT, INFUSION_SITE, INFUSION_START, INFUSION_LENGTH,
    INFUSION_STABILITY, CAPACITY, NOT_BEFORE,
)


@dataclass(frozen=True)
class Violation:
    order: str
    rule: str
    """One of ``RULES``."""
    detail: str


def usage(network: Network, order: OrderRequest, plan: Plan) -> list[Slot]:
    """The per-day slots ``plan`` occupies: one apheresis chair, one suite per manufacturing day."""
    days = network.timing(order.product).manufacturing_days
    mfg = plan.manufacturing
    return [(plan.apheresis.site, APHERESIS, plan.apheresis.day)] + [
        (mfg.site, MANUFACTURING, mfg.start_day + timedelta(days=i)) for i in range(days)
    ]


def cells_ready(network: Network, order: OrderRequest, plan: Plan) -> datetime:
    site = network.sites[plan.apheresis.site]
    return clock.at(site.tz, plan.apheresis.day, network.timing(order.product).collection_ready)


def release_at(network: Network, order: OrderRequest, manufacturing_site: str, end_day: date) -> datetime:
    """QC release: ``qc_hours`` after the local midnight that ends the last manufacturing day."""
    tz = network.sites[manufacturing_site].tz
    return clock.end_of(tz, end_day) + timedelta(hours=network.timing(order.product).qc_hours)


def last_infusion_day(network: Network, order: OrderRequest, from_day: date, released: datetime) -> date:
    """The window's last day: ``infusion_window_days`` long, cut to the days that end within stability."""
    rules = network.timing(order.product)
    tz = network.sites[order.treating_site].tz
    expiry = released + timedelta(hours=rules.final_stability_hours)
    last = from_day + timedelta(days=rules.infusion_window_days - 1)
    while last >= from_day and clock.end_of(tz, last) > expiry:
        last -= timedelta(days=1)
    return last


def check_plan(network: Network, order: OrderRequest, plan: Plan, *,
               used: Mapping[Slot, int] | None = None, not_before: datetime | None = None) -> list[Violation]:
    """Every constraint of one plan; with ``used`` also that its slots are still free on top of those."""
    found: list[Violation] = []

    def broken(rule: str, detail: str) -> None:
        found.append(Violation(order.id, rule, detail))

    rules = network.timing(order.product)
    sites = network.sites
    treating = sites.get(order.treating_site)
    aph = plan.apheresis
    if treating is None or aph.site != order.treating_site or APHERESIS not in treating.capabilities:
        broken(APHERESIS_SITE, f"apheresis at {aph.site}: must be the treating site {order.treating_site} "
                               "with apheresis capability")
        return found  # every later rule is stated relative to the treating site
    if not order.earliest <= aph.day <= order.latest:
        broken(APHERESIS_WINDOW, f"apheresis day {aph.day} is outside {order.earliest}..{order.latest}")
    if not treating.open_on(aph.day):
        broken(APHERESIS_CLOSED, f"{aph.site} is closed on {aph.day}")
    ready = cells_ready(network, order, plan)
    if not_before is not None and ready < not_before:
        broken(NOT_BEFORE, f"cells ready {ready.isoformat()} before {not_before.isoformat()}")

    mfg = plan.manufacturing
    plant = sites.get(mfg.site)
    if plant is None or MANUFACTURING not in plant.capabilities:
        broken(MANUFACTURING_SITE, f"{mfg.site} cannot manufacture")
        return found
    lanes = {lane.id: lane for lane in network.lanes}
    pickup = plan.pickup
    lane = lanes.get(pickup.lane)
    if lane is None or lane.origin != order.treating_site or lane.destination != mfg.site:
        broken(PICKUP_LANE, f"lane {pickup.lane} does not run {order.treating_site} -> {mfg.site}")
    else:
        _check_leg(network, lane, pickup.depart_at, pickup.arrive_at, broken, PICKUP_SCHEDULE, PICKUP_TRANSIT)
    if pickup.depart_at < ready:
        broken(PICKUP_BEFORE_READY, f"pickup {pickup.depart_at.isoformat()} before cells ready {ready.isoformat()}")

    if not plant.open_on(mfg.start_day):
        broken(MANUFACTURING_CLOSED, f"{mfg.site} is closed on {mfg.start_day}")
    starts = clock.at(plant.tz, mfg.start_day, rules.manufacturing_start)
    if starts < pickup.arrive_at:
        broken(MANUFACTURING_BEFORE_ARRIVAL, f"manufacturing starts {starts.isoformat()} before the cells arrive "
                                             f"{pickup.arrive_at.isoformat()}")
    if starts > ready + timedelta(hours=rules.fresh_shelf_life_hours):
        broken(MANUFACTURING_SHELF_LIFE, f"manufacturing starts {starts.isoformat()}, more than "
                                         f"{rules.fresh_shelf_life_hours} h after the cells were ready")
    if mfg.end_day != mfg.start_day + timedelta(days=rules.manufacturing_days - 1):
        broken(MANUFACTURING_DAYS, f"{mfg.start_day}..{mfg.end_day} is not {rules.manufacturing_days} days")

    qc = plan.qc_release
    qc_site = sites.get(qc.site)
    if qc.site != mfg.site or qc_site is None or QC not in qc_site.capabilities:
        broken(QC_SITE, f"QC at {qc.site}: must be the manufacturing site {mfg.site} with QC capability")
    released = release_at(network, order, mfg.site, mfg.end_day)
    if qc.ready_at != released:
        broken(QC_HOURS, f"QC release {qc.ready_at.isoformat()}, expected {released.isoformat()}")

    back = plan.return_shipment
    lane = lanes.get(back.lane)
    if lane is None or lane.origin != mfg.site or lane.destination != order.treating_site:
        broken(RETURN_LANE, f"lane {back.lane} does not run {mfg.site} -> {order.treating_site}")
    else:
        _check_leg(network, lane, back.depart_at, back.arrive_at, broken, RETURN_SCHEDULE, RETURN_TRANSIT)
    if back.depart_at < qc.ready_at:
        broken(RETURN_BEFORE_RELEASE, f"return {back.depart_at.isoformat()} before release {qc.ready_at.isoformat()}")

    window = plan.infusion_window
    if window.site != order.treating_site or INFUSION not in treating.capabilities:
        broken(INFUSION_SITE, f"infusion at {window.site}: must be the treating site with infusion capability")
    arrival_day = clock.day_of(treating.tz, back.arrive_at)
    if window.from_day != arrival_day:
        broken(INFUSION_START, f"window starts {window.from_day}, the product arrives {arrival_day}")
    longest = window.from_day + timedelta(days=rules.infusion_window_days - 1)
    if not window.from_day <= window.to_day <= longest:
        broken(INFUSION_LENGTH, f"window {window.from_day}..{window.to_day} is not within "
                                f"{rules.infusion_window_days} days")
    expiry = qc.ready_at + timedelta(hours=rules.final_stability_hours)
    if clock.end_of(treating.tz, window.to_day) > expiry:
        broken(INFUSION_STABILITY, f"window ends after the product's stability {expiry.isoformat()}")

    if used is not None:
        for slot, count in Counter(usage(network, order, plan)).items():
            if used.get(slot, 0) + count > network.capacity.get(slot, 0):
                broken(CAPACITY, f"{slot[0]} {slot[1]} on {slot[2]}: {network.capacity.get(slot, 0)} slots, "
                                 f"{used.get(slot, 0)} taken")
    return found


def _check_leg(network: Network, lane: Lane, depart_at: datetime, arrive_at: datetime, broken,
               schedule_rule: str, transit_rule: str) -> None:
    tz = network.sites[lane.origin].tz
    day = clock.day_of(tz, depart_at)
    if depart_at != clock.at(tz, day, lane.cutoff) or not clock.departs_on(network, lane, day):
        broken(schedule_rule, f"lane {lane.id} does not depart at {depart_at.isoformat()}")
    if arrive_at != depart_at + timedelta(hours=lane.transit_hours):
        broken(transit_rule, f"lane {lane.id} takes {lane.transit_hours} h, not "
                             f"{(arrive_at - depart_at).total_seconds() / 3600:.2f} h")


def used_slots(network: Network, orders: Mapping[str, OrderRequest], plans: Mapping[str, Plan]) -> Counter:
    """Slots taken by ``plans`` (keyed by order id), summed per (site, resource, day)."""
    taken: Counter = Counter()
    for order_id, plan in plans.items():
        taken.update(usage(network, orders[order_id], plan))
    return taken


def check_book(network: Network, orders: Mapping[str, OrderRequest], plans: Mapping[str, Plan]) -> list[Violation]:
    """Every plan's own constraints, then capacity per (site, resource, day) across all of them."""
    found: list[Violation] = []
    for order_id, plan in plans.items():
        found.extend(check_plan(network, orders[order_id], plan))
    found.extend(_over_capacity(network, orders, plans))
    return found


def _over_capacity(network: Network, orders: Mapping[str, OrderRequest],
                   plans: Mapping[str, Plan]) -> Iterable[Violation]:
    holders: dict[Slot, list[str]] = {}
    for order_id, plan in plans.items():
        for slot in usage(network, orders[order_id], plan):
            holders.setdefault(slot, []).append(order_id)
    for slot, ids in sorted(holders.items()):
        limit = network.capacity.get(slot, 0)
        if len(ids) > limit:
            for order_id in ids[limit:]:
                yield Violation(order_id, CAPACITY, f"{slot[0]} {slot[1]} on {slot[2]}: {limit} slots, "
                                                    f"{len(ids)} plans")
