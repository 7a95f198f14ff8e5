"""The CP-SAT re-planner over a demo-sized network, verified by a checker written here from the
time model in ``ledger.planning.network``'s docstring alone (it shares no code with
``ledger.planning.constraints``)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from ledger.planning import cpsat, synthetic
from ledger.planning.greedy import plan_one
from ledger.planning.model import Plan
from ledger.planning.network import Network, OrderRequest

START = date(2027, 1, 4)


def local(tz: str, day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def independent_check(net: Network, order: OrderRequest, plan: Plan) -> list[str]:
    """Every rule of the time model, restated: returns what is wrong (empty when the plan is valid)."""
    wrong = []
    rules = net.timing(order.product)
    lanes = {lane.id: lane for lane in net.lanes}
    home = net.sites[order.treating_site]
    plant = net.sites[plan.manufacturing.site]

    def is_open(site, day):
        return day.weekday() not in site.closed_weekdays and day not in site.holidays

    def leg_ok(lane_id, origin, destination, depart, arrive):
        lane = lanes.get(lane_id)
        if lane is None or (lane.origin, lane.destination) != (origin.id, destination.id):
            return False
        there = depart.astimezone(ZoneInfo(origin.tz))
        return (there.time() == lane.cutoff and there.weekday() in lane.days and is_open(origin, there.date())
                and arrive - depart == timedelta(hours=lane.transit_hours))

    a = plan.apheresis
    if a.site != home.id or "apheresis" not in home.capabilities or not is_open(home, a.day):
        wrong.append("apheresis site/day")
    if not order.earliest <= a.day <= order.latest:
        wrong.append("apheresis outside the order's days")
    ready = local(home.tz, a.day, rules.collection_ready)
    p = plan.pickup
    if not leg_ok(p.lane, home, plant, p.depart_at, p.arrive_at) or p.depart_at < ready:
        wrong.append("pickup")
    m = plan.manufacturing
    begins = local(plant.tz, m.start_day, rules.manufacturing_start)
    if "manufacturing" not in plant.capabilities or not is_open(plant, m.start_day):
        wrong.append("manufacturing site/day")
    if not p.arrive_at <= begins <= ready + timedelta(hours=rules.fresh_shelf_life_hours):
        wrong.append("manufacturing start vs arrival and fresh shelf life")
    if (m.end_day - m.start_day).days + 1 != rules.manufacturing_days:
        wrong.append("manufacturing days")
    q = plan.qc_release
    midnight = local(plant.tz, m.end_day + timedelta(days=1), time(0))
    if q.site != plant.id or "qc" not in plant.capabilities or q.ready_at != midnight + timedelta(hours=rules.qc_hours):
        wrong.append("qc")
    r = plan.return_shipment
    if not leg_ok(r.lane, plant, home, r.depart_at, r.arrive_at) or r.depart_at < q.ready_at:
        wrong.append("return")
    w = plan.infusion_window
    arrival_day = r.arrive_at.astimezone(ZoneInfo(home.tz)).date()
    window_end = local(home.tz, w.to_day + timedelta(days=1), time(0))
    if w.site != home.id or "infusion" not in home.capabilities or w.from_day != arrival_day:
        wrong.append("infusion site/start")
    if not w.from_day <= w.to_day < w.from_day + timedelta(days=rules.infusion_window_days):
        wrong.append("infusion window length")
    if window_end > q.ready_at + timedelta(hours=rules.final_stability_hours):
        wrong.append("infusion past stability")
    return wrong


def slot_totals(net: Network, orders: dict[str, OrderRequest], plans: dict[str, Plan]) -> Counter:
    totals: Counter = Counter()
    for order_id, plan in plans.items():
        totals[(plan.apheresis.site, "apheresis", plan.apheresis.day)] += 1
        for i in range(net.timing(orders[order_id].product).manufacturing_days):
            totals[(plan.manufacturing.site, "manufacturing", plan.manufacturing.start_day + timedelta(days=i))] += 1
    return totals


@pytest.fixture(scope="module")
def demo() -> tuple[Network, list[OrderRequest]]:
    # 3 hospitals, 2 plants in two time zones (Amsterdam, New York), lanes both ways
    net = synthetic.network(hospitals=3, plants=2, days=90, start=START, plants_per_site=2, chairs=2, suites=10)
    assert {net.sites[p].tz for p in ("PLANT-00", "PLANT-01")} == {"Europe/Amsterdam", "America/New_York"}
    return net, synthetic.orders(net, 200, start=START, days=90)


def test_200_orders_every_placed_plan_and_the_capacity_totals_check_out(demo) -> None:
    net, orders = demo
    book = {o.id: o for o in orders}
    result = cpsat.replan(net, orders, time_limit_s=20)
    assert set(result.placed) | set(result.unplaced) == set(book)
    assert not set(result.placed) & set(result.unplaced)
    for order_id, plan in result.placed.items():
        assert independent_check(net, book[order_id], plan) == [], order_id
    for slot, count in slot_totals(net, book, result.placed).items():
        assert count <= net.capacity.get(slot, 0), slot
    # the book is over-subscribed: some orders wait, for lack of capacity, never for an invalid reason
    assert len(result.unplaced) > 0 and set(result.unplaced.values()) == {cpsat.CAPACITY}
    # and the optimiser does at least as well as placing the orders one by one, earliest first
    used: Counter = Counter()
    one_by_one = 0
    for order in sorted(orders, key=lambda o: o.earliest):
        plan = plan_one(net, order, used=used)
        if plan is not None:
            one_by_one += 1
            used.update(slot_totals(net, book, {order.id: plan}))
    assert len(result.placed) >= one_by_one


def test_the_checker_itself_catches_a_broken_plan(demo) -> None:
    net, orders = demo
    plan = plan_one(net, orders[0])
    assert plan is not None and independent_check(net, orders[0], plan) == []
    late = plan.model_copy(update={"qc_release": plan.qc_release.model_copy(
        update={"ready_at": plan.qc_release.ready_at + timedelta(hours=1)})})
    assert "qc" in independent_check(net, orders[0], late)


def test_fixed_plans_stay_and_their_slots_are_taken(demo) -> None:
    net, orders = demo
    book = {o.id: o for o in orders[:60]}
    first = cpsat.replan(net, orders[:30])
    fixed = dict(list(first.placed.items())[:20])
    again = cpsat.replan(net, orders[:60], fixed=fixed)
    assert not set(again.placed) & set(fixed)
    both = {**fixed, **again.placed}
    for slot, count in slot_totals(net, book, both).items():
        assert count <= net.capacity.get(slot, 0), slot
    with pytest.raises(ValueError):
        cpsat.replan(net, orders[:5], fixed={"ORD-UNKNOWN": next(iter(fixed.values()))})


def test_priority_wins_the_last_slot_and_reasons_are_given() -> None:
    net = synthetic.network(hospitals=1, plants=1, days=20, start=START, plants_per_site=1, chairs=1, suites=1)
    window = dict(treating_site="HOSP-00", product=synthetic.PRODUCT, earliest=START, latest=START + timedelta(days=2))
    low = OrderRequest(id="ORD-LOW", coi="COI-LOW", priority=0, **window)
    high = OrderRequest(id="ORD-HIGH", coi="COI-HIGH", priority=2, **window)
    weekend = OrderRequest(id="ORD-WEEKEND", coi="COI-WE", treating_site="HOSP-00", product=synthetic.PRODUCT,
                           earliest=date(2027, 1, 9), latest=date(2027, 1, 10))
    result = cpsat.replan(net, [low, high, weekend])
    assert set(result.placed) == {"ORD-HIGH"}
    assert result.unplaced == {"ORD-LOW": cpsat.CAPACITY, "ORD-WEEKEND": cpsat.NO_ROUTE}
    assert result.status == "OPTIMAL"
