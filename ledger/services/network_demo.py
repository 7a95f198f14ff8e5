"""The demo's planning network (``ledger demo``): 3 hospitals and 2 plants in two time zones
(Europe/Amsterdam, America/New_York), courier lanes between every hospital and plant, and
capacity for the next ``DAYS`` days. Run again, it registers no site twice and declares no
unchanged capacity.

Used by the demo and by tests, which get the same small, realistic network."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from ..errors import RuleViolation
from ..planning.model import Plan
from ..planning.network import Network
from .executor import Context
from .journeys import DEMO_PRODUCT, FACTORY, HOSPITAL, Timeline

HOSPITALS = ((HOSPITAL, "St. Example Hospital", "Europe/Amsterdam"),
             ("hospital-2", "Example University Hospital", "Europe/Amsterdam"),
             ("hospital-3", "Example Cancer Center", "America/New_York"))
PLANTS = ((FACTORY, "Example Cell Therapy Plant", "Europe/Amsterdam"),
          ("plant-us", "Example Cell Therapy Plant (US)", "America/New_York"))
DAYS = 60
PLANT_DAYS = DAYS + 20
"""Manufacturing capacity runs past the last apheresis day: a batch takes about ten days."""
CHAIRS, SUITES = 2, 3


def _continent(tz: str) -> str:
    return tz.split("/")[0]


def build_demo_network(services, today: date, *, days: int = DAYS, chairs: int = CHAIRS,
                       suites: int = SUITES) -> None:
    """Register the sites (if new), set their profiles, define the lanes and declare capacity from
    ``today`` on."""
    ctx = Context(actor="system")
    reads = services.reads()
    for site, name, tz in HOSPITALS:
        if reads.site(site).version == 0:
            services.identity.register_site(ctx, site_id=site, name=name, kind="hospital")
        _unless_unchanged(services.orders.set_site_profile, ctx, site=site, capabilities=["apheresis", "infusion"],
                          tz=tz, closed_weekdays=[5, 6], holidays=[])
    for site, name, tz in PLANTS:
        if reads.site(site).version == 0:
            services.identity.register_site(ctx, site_id=site, name=name, kind="manufacturing")
        _unless_unchanged(services.orders.set_site_profile, ctx, site=site, capabilities=["manufacturing", "qc"],
                          tz=tz, closed_weekdays=[], holidays=[])  # plants run every day
    for hospital, _, htz in HOSPITALS:
        for plant, _, ptz in PLANTS:
            hours = 8.0 if _continent(htz) == _continent(ptz) else 30.0
            _unless_unchanged(services.orders.define_lane, ctx, lane=f"L-{hospital}-{plant}", origin=hospital,
                              destination=plant, transit_hours=hours, cutoff="18:00", days=[0, 1, 2, 3, 4])
            _unless_unchanged(services.orders.define_lane, ctx, lane=f"L-{plant}-{hospital}", origin=plant,
                              destination=hospital, transit_hours=hours, cutoff="10:00", days=[0, 1, 2, 3, 4])
    ranges = [(site, "apheresis", days, chairs) for site, _, _ in HOSPITALS]
    ranges += [(site, "manufacturing", days + (PLANT_DAYS - DAYS), suites) for site, _, _ in PLANTS]
    for site, resource, span, slots in ranges:
        _unless_unchanged(services.orders.declare_capacity, ctx, site=site, resource=resource, first=today,
                          last=today + timedelta(days=span - 1), slots=slots)


def _unless_unchanged(command: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run ``command``; what the network already has (``NO_CHANGE``: a second `ledger demo`) is fine."""
    try:
        command(*args, **kwargs)
    except RuleViolation as unchanged:
        if unchanged.code != "NO_CHANGE":
            raise


def ship_to_plant(services, coi: str, mrn: str, plan: Plan, *, late_by: timedelta, deliver: bool = True) -> UUID:
    """What actually happened to a booked case up to the plant (for the demo and tests): the bag
    labelled and collected on the plan's apheresis day, dispatched on the plan's pickup, and
    delivered ``late_by`` after the planned arrival (still in transit with ``deliver=False``).
    Recorded with the times they happened (backfilled when older than the tolerance). Returns the
    bag's unit id."""
    hospital, plant = plan.apheresis.site, plan.manufacturing.site
    time = Timeline(plan.pickup.depart_at - timedelta(hours=5))
    labelled = services.units.label(time.at("nurse", hospital), coi=coi, kind="apheresis_bag")
    bag = UUID(labelled.result.answer["unit_id"])
    services.units.collect(time.at("nurse", hospital, after=timedelta(hours=1)), unit_id=bag, wristband_mrn=mrn,
                           material="leukapheresis", collection_site=hospital)
    services.units.handover(time.at("nurse", hospital, after=timedelta(hours=2)), unit_id=bag, to_party="courier",
                            location=hospital)
    services.units.acknowledge(time.at("courier"), unit_id=bag, location=hospital, condition="sealed")
    time.now = plan.pickup.depart_at
    tracking = f"TRK-{coi[-6:]}"
    services.units.dispatch(time.at("courier", after=timedelta(0)), unit_id=bag, carrier="Example Express",
                            tracking=tracking, from_site=hospital, to_site=plant)
    if not deliver:
        return bag
    time.now = plan.pickup.arrive_at + late_by
    services.units.deliver(time.at("courier", after=timedelta(0)), unit_id=bag, tracking=tracking, to_site=plant,
                           condition="intact")
    return bag


LATE_ORDER = "ORD-DEMO-LATE"
DEMO_ORDERS = ((f"ORD-DEMO-{n}", site, f"MRN-PLAN-{n}") for n, (site, _, _) in enumerate(HOSPITALS, start=1))


def run_orchestration_demo(services, network_of: Callable[[], Network], replan: Callable[[], None], *,
                           product: str = DEMO_PRODUCT) -> dict[str, Any]:
    """The demo's network and book: an order per hospital, booked on the greedy planner's plan, and
    ``ORD-DEMO-LATE``, collected days ago and delivered to the plant 7 hours late, whose plan the
    re-planner then moved (``replan()`` runs it). ``network_of()`` is the network as the read model
    knows it once it has applied the log so far."""
    from ..planning.greedy import plan_one
    from .orders import order_request

    now = services.executor.clock()
    today = now.date()
    build_demo_network(services, today - timedelta(days=14), days=DAYS + 14)
    system, booked, enrolled = Context(actor="system"), {}, []
    wanted = [(order, site, mrn, today + timedelta(days=3), today + timedelta(days=17), now)
              for order, site, mrn in DEMO_ORDERS]
    wanted.append((LATE_ORDER, HOSPITAL, "MRN-PLAN-LATE", today - timedelta(days=12), today - timedelta(days=8), None))
    for order_id, site, mrn, earliest, latest, not_before in wanted:
        if services.orders.order(order_id).version:
            continue  # `ledger demo` run again
        coi = services.cases.enrol(Context(actor="system", site=site), kind="autologous", product=product,
                                   treating_site=site, mrn=mrn).result.answer["coi"]
        enrolled.append(coi)
        services.orders.place(system, order_id=order_id, coi=coi, product=product, treating_site=site,
                              earliest=earliest, latest=latest)
        plan = plan_one(network_of(), order_request(services.orders.order(order_id)), not_before=not_before)
        if plan is None:
            continue
        services.orders.book(system, order_id=order_id, plan=plan)
        booked[order_id] = coi
        if order_id == LATE_ORDER:
            ship_to_plant(services, coi, mrn, plan, late_by=timedelta(hours=7))
            replan()
    return {"orders": sorted(booked), "cases": enrolled, "late": LATE_ORDER if LATE_ORDER in booked else None}
