"""Each constraint of ``ledger.planning.constraints`` catches its own violation, and a valid plan has none."""

from __future__ import annotations

from collections import Counter
from datetime import date, time, timedelta

import pytest

from ledger.planning import constraints as c
from ledger.planning.greedy import plan_one
from ledger.planning.model import Plan
from ledger.planning.network import (
    APHERESIS,
    INFUSION,
    MANUFACTURING,
    QC,
    Lane,
    Network,
    OrderRequest,
    Site,
    TimingRules,
)

MONDAY = date(2027, 3, 1)
HOURS = timedelta(hours=1)


def small_network(suites: int = 1, chairs: int = 1) -> Network:
    hospital = Site("HOSP-AMS", "Europe/Amsterdam", frozenset({APHERESIS, INFUSION}))
    plant = Site("PLANT-NJ", "America/New_York", frozenset({MANUFACTURING, QC}))
    other = Site("PLANT-NOQC", "Europe/Amsterdam", frozenset({MANUFACTURING}))
    capacity = {}
    for d in range(60):
        day = MONDAY + timedelta(days=d)
        capacity[(plant.id, MANUFACTURING, day)] = suites
        capacity[(other.id, MANUFACTURING, day)] = suites
        if hospital.open_on(day):
            capacity[(hospital.id, APHERESIS, day)] = chairs
    lanes = (
        Lane("OUT", hospital.id, plant.id, 10.0, time(18, 0), frozenset(range(5))),
        Lane("BACK", plant.id, hospital.id, 10.0, time(9, 0), frozenset(range(5))),
        Lane("ELSEWHERE", hospital.id, other.id, 2.0, time(18, 0)),
    )
    return Network({s.id: s for s in (hospital, plant, other)}, lanes, capacity,
                   {"P": TimingRules(manufacturing_days=7, qc_hours=48.0)})


ORDER = OrderRequest("ORD-1", "COI-1", "HOSP-AMS", "P", MONDAY, MONDAY + timedelta(days=13))


@pytest.fixture(scope="module")
def net() -> Network:
    return small_network()


@pytest.fixture(scope="module")
def plan(net: Network) -> Plan:
    found = plan_one(net, ORDER)
    assert found is not None
    return found


def rules(net: Network, plan: Plan, **kwargs) -> set[str]:
    return {v.rule for v in c.check_plan(net, ORDER, plan, **kwargs)}


def edit(plan: Plan, leg: str, **changes) -> Plan:
    return plan.model_copy(update={leg: getattr(plan, leg).model_copy(update=changes)})


def test_the_greedy_plan_is_valid_and_earliest(net: Network, plan: Plan) -> None:
    assert rules(net, plan) == set()
    assert plan.apheresis.day == MONDAY
    # Amsterdam 18:00 (17:00Z) + 10 h = 03:00Z = 22:00 in New Jersey: manufacturing starts Tuesday 08:00 there
    assert plan.pickup.arrive_at == plan.pickup.depart_at + 10 * HOURS
    assert plan.manufacturing.start_day == MONDAY + timedelta(days=1)
    assert plan.manufacturing.end_day == MONDAY + timedelta(days=7)
    assert plan.qc_release.ready_at.isoformat() == "2027-03-11T05:00:00+00:00"  # NJ midnight (EST) + 48 h
    assert plan.return_shipment.depart_at.isoformat() == "2027-03-11T14:00:00+00:00"  # Thursday 09:00 EST
    assert plan.infusion_window.from_day == date(2027, 3, 12)  # arrives 00:00Z = 01:00 Amsterdam, Friday
    assert plan.infusion_window.to_day == date(2027, 3, 14)


def shift(at, hours: float):
    return at + timedelta(hours=hours)


MUTATIONS = {
    c.APHERESIS_SITE: lambda p: edit(p, "apheresis", site="PLANT-NJ"),
    c.APHERESIS_WINDOW: lambda p: edit(p, "apheresis", day=MONDAY - timedelta(days=7)),
    c.APHERESIS_CLOSED: lambda p: edit(p, "apheresis", day=MONDAY + timedelta(days=5)),
    c.PICKUP_LANE: lambda p: edit(p, "pickup", lane="BACK"),
    c.PICKUP_SCHEDULE: lambda p: edit(p, "pickup", depart_at=shift(p.pickup.depart_at, 1),
                                      arrive_at=shift(p.pickup.arrive_at, 1)),
    c.PICKUP_BEFORE_READY: lambda p: edit(p, "pickup", depart_at=shift(p.pickup.depart_at, -24),
                                          arrive_at=shift(p.pickup.arrive_at, -24)),
    c.PICKUP_TRANSIT: lambda p: edit(p, "pickup", arrive_at=shift(p.pickup.arrive_at, -1)),
    c.MANUFACTURING_SITE: lambda p: edit(p, "manufacturing", site="HOSP-AMS"),
    c.MANUFACTURING_CLOSED: lambda p: edit(edit(p, "manufacturing", start_day=date(2027, 3, 6),
                                                end_day=date(2027, 3, 12)), "pickup"),
    c.MANUFACTURING_BEFORE_ARRIVAL: lambda p: edit(p, "manufacturing", start_day=MONDAY,
                                                   end_day=MONDAY + timedelta(days=6)),
    c.MANUFACTURING_SHELF_LIFE: lambda p: edit(p, "manufacturing", start_day=MONDAY + timedelta(days=3),
                                               end_day=MONDAY + timedelta(days=9)),
    c.MANUFACTURING_DAYS: lambda p: edit(p, "manufacturing", end_day=p.manufacturing.end_day + timedelta(days=1)),
    c.QC_SITE: lambda p: edit(p, "qc_release", site="HOSP-AMS"),
    c.QC_HOURS: lambda p: edit(p, "qc_release", ready_at=shift(p.qc_release.ready_at, -1)),
    c.RETURN_LANE: lambda p: edit(p, "return_shipment", lane="OUT"),
    c.RETURN_SCHEDULE: lambda p: edit(p, "return_shipment", depart_at=shift(p.return_shipment.depart_at, 2),
                                      arrive_at=shift(p.return_shipment.arrive_at, 2)),
    c.RETURN_BEFORE_RELEASE: lambda p: edit(p, "return_shipment", depart_at=shift(p.return_shipment.depart_at, -24),
                                            arrive_at=shift(p.return_shipment.arrive_at, -24)),
    c.RETURN_TRANSIT: lambda p: edit(p, "return_shipment", arrive_at=shift(p.return_shipment.arrive_at, 5)),
    c.INFUSION_SITE: lambda p: edit(p, "infusion_window", site="PLANT-NJ"),
    c.INFUSION_START: lambda p: edit(p, "infusion_window", from_day=p.infusion_window.from_day + timedelta(days=1)),
    c.INFUSION_LENGTH: lambda p: edit(p, "infusion_window", to_day=p.infusion_window.from_day - timedelta(days=1)),
}


@pytest.mark.parametrize("rule", sorted(MUTATIONS))
def test_each_rule_catches_its_violation(net: Network, plan: Plan, rule: str) -> None:
    broken = MUTATIONS[rule](plan)
    assert rule in rules(net, broken)


def test_the_window_never_outlasts_stability() -> None:
    short = small_network()
    short = Network(short.sites, short.lanes, short.capacity,
                    {"P": TimingRules(manufacturing_days=7, qc_hours=48.0, final_stability_hours=44.0)})
    plan = plan_one(short, ORDER)
    assert plan is not None and rules(short, plan) == set()
    assert plan.infusion_window.to_day == plan.infusion_window.from_day  # 44 h after release: one whole day only
    longer = edit(plan, "infusion_window", to_day=plan.infusion_window.from_day + timedelta(days=1))
    assert rules(short, longer) == {c.INFUSION_STABILITY}


def test_a_plant_without_qc_is_not_a_route(net: Network, plan: Plan) -> None:
    assert plan.manufacturing.site == "PLANT-NJ"  # ELSEWHERE is shorter but its plant cannot release
    moved = edit(edit(plan, "manufacturing", site="PLANT-NOQC"), "qc_release", site="PLANT-NOQC")
    assert {c.QC_SITE, c.PICKUP_LANE, c.RETURN_LANE} <= rules(net, moved)


def test_not_before_and_capacity_both_ways(net: Network, plan: Plan) -> None:
    ready = c.cells_ready(net, ORDER, plan)
    assert rules(net, plan, not_before=ready) == set()
    assert rules(net, plan, not_before=ready + HOURS) == {c.NOT_BEFORE}
    assert rules(net, plan, used=Counter()) == set()
    taken = Counter({("PLANT-NJ", MANUFACTURING, plan.manufacturing.end_day): 1})
    assert rules(net, plan, used=taken) == {c.CAPACITY}


def test_the_book_counts_capacity_across_plans(net: Network, plan: Plan) -> None:
    second = OrderRequest("ORD-2", "COI-2", "HOSP-AMS", "P", MONDAY, MONDAY + timedelta(days=13))
    orders = {ORDER.id: ORDER, second.id: second}
    assert c.check_book(net, orders, {ORDER.id: plan}) == []
    clash = c.check_book(net, orders, {ORDER.id: plan, second.id: plan})
    assert {v.rule for v in clash} == {c.CAPACITY} and {v.order for v in clash} == {"ORD-2"}
    roomy = small_network(suites=2, chairs=2)
    assert c.check_book(roomy, orders, {ORDER.id: plan, second.id: plan}) == []


def test_greedy_steps_around_taken_slots_and_not_before(net: Network, plan: Plan) -> None:
    used = Counter(c.usage(net, ORDER, plan))
    second = OrderRequest("ORD-2", "COI-2", "HOSP-AMS", "P", MONDAY, MONDAY + timedelta(days=13))
    later = plan_one(net, second, used=used)
    assert later is not None and c.check_plan(net, second, later, used=used) == []
    assert later.manufacturing.start_day > plan.manufacturing.end_day  # one suite: after the first batch
    delayed = plan_one(net, ORDER, not_before=c.cells_ready(net, ORDER, plan) + HOURS)
    assert delayed is not None and delayed.apheresis.day == MONDAY + timedelta(days=1)
    closed = OrderRequest("ORD-3", "COI-3", "HOSP-AMS", "P", date(2027, 3, 6), date(2027, 3, 7))
    assert plan_one(net, closed) is None  # a weekend window: no open apheresis day
