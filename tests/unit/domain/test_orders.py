"""Orchestration's pure decisions: a plan's slots, booking against capacity days (full days refused,
the previous plan's slots released, a stale re-plan booking nothing), capacity never below what is
booked, and the product's timing rules read from its specification."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ledger.domain.events_orders import TherapyOrdered
from ledger.domain.events_spec import ProductSpecDefined
from ledger.domain.orders import (
    CapacityDay,
    OrderState,
    capacity_days,
    decide_book,
    decide_capacity,
    plan_slots,
)
from ledger.domain.product_spec import SpecVersion
from ledger.domain.product_timing import timing_rules
from ledger.errors import InvalidEvent, RuleViolation
from ledger.planning.model import Plan
from ledger.planning.network import TimingRules

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
PLAN = Plan.model_validate({
    "apheresis": {"site": "H1", "day": "2026-03-02"},
    "pickup": {"lane": "L1", "depart_at": "2026-03-02T17:00:00Z", "arrive_at": "2026-03-03T01:00:00Z"},
    "manufacturing": {"site": "M1", "start_day": "2026-03-03", "end_day": "2026-03-05"},
    "qc_release": {"site": "M1", "ready_at": "2026-03-08T23:00:00Z"},
    "return_shipment": {"lane": "L2", "depart_at": "2026-03-09T09:00:00Z", "arrive_at": "2026-03-09T17:00:00Z"},
    "infusion_window": {"site": "H1", "from_day": "2026-03-09", "to_day": "2026-03-11"}})
ORDERED = OrderState(version=1, ordered=TherapyOrdered(order="O1", coi="COI-ZSKP-JBH7-H", product="CAR-T",
                                                       treating_site="H1", earliest=date(2026, 3, 2),
                                                       latest=date(2026, 3, 6)))


def moved(plan: Plan, days: int) -> Plan:
    making = plan.manufacturing
    return plan.model_copy(update={"manufacturing": making.model_copy(update={
        "start_day": making.start_day + timedelta(days=days), "end_day": making.end_day + timedelta(days=days)})})


def free_days(*plans: Plan, slots: int = 1, booked: tuple[str, ...] = ()) -> dict:
    return {key: CapacityDay(version=1, slots=slots, booked=booked) for p in plans for key in plan_slots(p)}


def test_a_plan_holds_a_chair_and_a_suite_on_every_manufacturing_day():
    assert plan_slots(PLAN) == (("H1", "apheresis", date(2026, 3, 2)), ("M1", "manufacturing", date(2026, 3, 3)),
                                ("M1", "manufacturing", date(2026, 3, 4)), ("M1", "manufacturing", date(2026, 3, 5)))


def test_booking_takes_free_slots_and_refuses_a_full_day():
    events = decide_book(ORDERED, free_days(PLAN), order_id="O1", plan=PLAN, now=NOW)
    assert [e.type for e in events] == ["SlotBooked"] * 4 + ["OrderPlanBooked"]
    full = {**free_days(PLAN), plan_slots(PLAN)[2]: CapacityDay(version=2, slots=1, booked=("O2",))}
    with pytest.raises(RuleViolation) as refused:
        decide_book(ORDERED, full, order_id="O1", plan=PLAN, now=NOW)
    assert refused.value.code == "SLOT_UNAVAILABLE"
    with pytest.raises(InvalidEvent) as outside:
        decide_book(ORDERED, free_days(PLAN), order_id="O1", now=NOW, plan=PLAN.model_copy(update={
            "apheresis": PLAN.apheresis.model_copy(update={"day": date(2026, 3, 9)})}))
    assert outside.value.code == "PLAN_MISMATCH"


def test_a_new_plan_releases_only_the_slots_it_no_longer_holds():
    held = OrderState(version=2, ordered=ORDERED.ordered, plan=PLAN, slots=plan_slots(PLAN), plans=1)
    later = moved(PLAN, 1)  # 4th and 5th stay, 3rd released, 6th taken
    days = {**free_days(later), **{k: CapacityDay(version=1, slots=1, booked=("O1",)) for k in plan_slots(PLAN)}}
    events = decide_book(held, days, order_id="O1", plan=later, reason="late delivery", now=NOW)
    assert [(e.type, e.data.get("day")) for e in events] == [
        ("SlotReleased", "2026-03-03"), ("SlotBooked", "2026-03-06"), ("OrderPlanBooked", None)]
    assert decide_book(held, days, order_id="O1", plan=later, replaces=later, now=NOW) == []  # stale re-plan


def test_capacity_is_never_declared_below_what_is_booked():
    profile_day = {date(2026, 3, 3): CapacityDay(version=2, slots=2, booked=("O1", "O2"))}
    from ledger.domain.events_orders import SiteProfileSet
    from ledger.domain.orders import SiteProfile

    plant = SiteProfile(version=1, profile=SiteProfileSet(site="M1", capabilities=["manufacturing", "qc"],
                                                          tz="Europe/Amsterdam"))
    with pytest.raises(RuleViolation) as refused:
        decide_capacity(profile_day, plant, site="M1", resource="manufacturing", slots=1, now=NOW)
    assert refused.value.code == "CAPACITY_BELOW_BOOKED"
    assert len(decide_capacity(profile_day, plant, site="M1", resource="manufacturing", slots=3, now=NOW)) == 1
    with pytest.raises(InvalidEvent):
        decide_capacity(profile_day, plant, site="M1", resource="apheresis", slots=3, now=NOW)
    with pytest.raises(InvalidEvent):
        capacity_days(date(2026, 3, 3), date(2027, 3, 5))


def test_timing_rules_come_from_the_specification_keys():
    spec = ProductSpecDefined(product="CAR-T", version=1, shelf_lives={"fresh_apheresis": 36, "final_product": 240},
                              process_durations={"manufacturing": 200, "qc": 48, "infusion_window": 50})
    version = SpecVersion(1, spec, frozenset({"qa"}), "qa", NOW, "qa2", NOW)
    assert timing_rules(version) == TimingRules(fresh_shelf_life_hours=36, manufacturing_days=9, qc_hours=48,
                                                final_stability_hours=240, infusion_window_days=3)
    assert timing_rules(None) == TimingRules()


def _profile(site: str, *capabilities: str):
    from ledger.domain.events_orders import SiteProfileSet
    from ledger.domain.orders import SiteProfile

    return SiteProfile(version=1, profile=SiteProfileSet(site=site, capabilities=list(capabilities),
                                                         tz="Europe/Amsterdam"))


def test_master_data_refusals_name_what_is_missing():
    from ledger.domain.lanes import LaneState, decide_lane
    from ledger.domain.orders import SiteProfile

    with pytest.raises(InvalidEvent) as unprofiled:
        decide_capacity({}, SiteProfile(), site="M1", resource="manufacturing", slots=1, now=NOW)
    assert unprofiled.value.code == "PROFILE_REQUIRED"
    with pytest.raises(InvalidEvent) as incapable:
        decide_capacity({}, _profile("H1", "infusion"), site="H1", resource="apheresis", slots=1, now=NOW)
    assert incapable.value.code == "CAPABILITY_MISSING"
    with pytest.raises(InvalidEvent) as backwards:
        capacity_days(date(2026, 3, 5), date(2026, 3, 3))
    assert backwards.value.code == "CAPACITY_RANGE"
    lane = {"lane": "L1", "transit_hours": 8, "cutoff": "18:00", "days": [0], "now": NOW}
    with pytest.raises(InvalidEvent) as loop:
        decide_lane(LaneState(), _profile("H1", "apheresis"), _profile("H1", "apheresis"), origin_site="H1",
                    destination_site="H1", **lane)
    assert loop.value.code == "LANE_SITES"
    with pytest.raises(InvalidEvent) as unplanned_end:
        decide_lane(LaneState(), _profile("H1", "apheresis"), SiteProfile(), origin_site="H1", destination_site="M1",
                    **lane)
    assert unplanned_end.value.code == "LANE_SITES"
    assert [e.type for e in decide_lane(LaneState(), _profile("H1", "apheresis"), _profile("M1", "manufacturing"),
                                        origin_site="H1", destination_site="M1", **lane)] == ["LaneDefined"]


def test_master_data_the_ledger_already_has_is_refused_as_no_change():
    from ledger.domain.lanes import LaneState, decide_lane
    from ledger.domain.orders import decide_site_profile

    profile = _profile("H1", "apheresis")
    same = {"site": "H1", "capabilities": ["apheresis"], "tz": "Europe/Amsterdam", "closed_weekdays": [6, 5],
            "holidays": [], "now": NOW}  # the same days in another order: the same profile
    with pytest.raises(RuleViolation) as unchanged:
        decide_site_profile(profile, **same)
    assert unchanged.value.code == "NO_CHANGE"
    assert [e.type for e in decide_site_profile(profile, **{**same, "closed_weekdays": [6]})] == ["SiteProfileSet"]
    lane = {"lane": "L1", "origin_site": "H1", "destination_site": "M1", "transit_hours": 8, "cutoff": "18:00",
            "days": [0], "now": NOW}
    first = decide_lane(LaneState(), profile, _profile("M1", "manufacturing"), **lane)
    defined = LaneState(version=1, lane=first[0].model)
    with pytest.raises(RuleViolation) as again:
        decide_lane(defined, profile, _profile("M1", "manufacturing"), **lane)
    assert again.value.code == "NO_CHANGE"
    assert [e.type for e in decide_lane(defined, profile, _profile("M1", "manufacturing"),
                                        **{**lane, "transit_hours": 9})] == ["LaneDefined"]


def test_an_order_names_an_enrolled_case_of_its_site_within_a_forward_window():
    from ledger.domain.case import CaseState
    from ledger.domain.orders import decide_order

    case = CaseState(version=1, role="patient", coi=ORDERED.ordered.coi, product="CAR-T", site="H1", status="enrolled")
    order = {"order_id": "O1", "coi": case.coi, "product": "CAR-T", "treating_site": "H1", "priority": 0, "now": NOW,
             "earliest": date(2026, 3, 2), "latest": date(2026, 3, 6)}
    home = _profile("H1", "apheresis", "infusion")
    assert [e.type for e in decide_order(OrderState(), case, home, **order)] == ["TherapyOrdered"]
    with pytest.raises(RuleViolation) as twice:
        decide_order(ORDERED, case, home, **order)
    assert twice.value.code == "ORDER_EXISTS"
    with pytest.raises(InvalidEvent) as backwards:
        decide_order(OrderState(), case, home, **{**order, "latest": date(2026, 3, 1)})
    assert backwards.value.code == "ORDER_WINDOW"
    with pytest.raises(RuleViolation) as elsewhere:
        decide_order(OrderState(), case, home, **{**order, "treating_site": "H2"})
    assert elsewhere.value.code == "ORDER_CASE"
    with pytest.raises(InvalidEvent) as no_chairs:
        decide_order(OrderState(), case, _profile("H1", "infusion"), **order)
    assert no_chairs.value.code == "CAPABILITY_MISSING"


def test_an_order_must_exist_be_open_hold_a_plan_to_release_and_have_one_proposed():
    from ledger.domain.orders import decide_cancel, decide_release, require_active
    from ledger.domain.plan_rules import require_plan
    from ledger.errors import StreamNotFound

    with pytest.raises(StreamNotFound) as unknown:
        require_active(OrderState(), "O9")
    assert unknown.value.code == "ORDER_NOT_FOUND"
    with pytest.raises(RuleViolation) as planless:
        decide_release(ORDERED, order_id="O1", reason="r", now=NOW)
    assert planless.value.code == "NO_PLAN_HELD"
    cancelled = OrderState(version=2, ordered=ORDERED.ordered, cancelled=True)
    assert [e.type for e in decide_cancel(ORDERED, order_id="O1", reason="r", now=NOW)] == ["OrderCancelled"]
    with pytest.raises(RuleViolation) as closed:
        decide_release(cancelled, order_id="O1", reason="r", now=NOW)
    assert closed.value.code == "ORDER_CLOSED"
    with pytest.raises(RuleViolation) as nothing_fits:
        require_plan(None, "O1")
    assert nothing_fits.value.code == "NO_PLAN"
    assert require_plan(PLAN, "O1") is PLAN


def test_a_plan_the_network_cannot_run_is_refused_naming_each_broken_rule():
    from ledger.domain.plan_rules import require_feasible

    require_feasible("O1", [])  # nothing broken: admissible
    with pytest.raises(InvalidEvent) as refused:
        require_feasible("O1", ["pickup_lane: lane X does not run H1 -> M1", "manufacturing_days: 3 is not 10"])
    assert refused.value.code == "PLAN_INFEASIBLE"
    assert "pickup_lane" in str(refused.value) and "manufacturing_days" in str(refused.value)


def test_a_plan_whose_legs_run_off_the_calendar_is_refused_before_any_arithmetic():
    from ledger.domain.plan_rules import require_plan_shape

    require_plan_shape(PLAN)
    late = PLAN.model_copy(update={"return_shipment": PLAN.return_shipment.model_copy(update={
        "arrive_at": datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)})})
    early = PLAN.model_copy(update={"apheresis": PLAN.apheresis.model_copy(update={"day": date(1, 1, 2)})})
    for bad in (late, early):
        with pytest.raises(InvalidEvent) as refused:
            require_plan_shape(bad)
        assert refused.value.code == "PLAN_MISMATCH"
