"""A patient not fit for infusion: when the case resumes, the product already made goes home on the
first departure from then on, within its stability (``ledger.services.replanning.return_plan``)."""

from __future__ import annotations

from datetime import date, timedelta

from ledger.domain.events_orders import TherapyOrdered
from ledger.domain.orders import OrderState
from ledger.planning import synthetic
from ledger.planning.constraints import check_plan
from ledger.planning.greedy import plan_one
from ledger.services.orders import order_request
from ledger.services.replanning import return_plan

START = date(2026, 3, 2)
NET = synthetic.network(hospitals=1, plants=1, days=40, start=START)
ORDER = OrderState(version=1, ordered=TherapyOrdered(order="O1", coi="COI-ZSKP-JBH7-H", product=synthetic.PRODUCT,
                                                     treating_site="HOSP-00", earliest=START,
                                                     latest=START + timedelta(days=6)))


def booked():
    plan = plan_one(NET, order_request(ORDER))
    assert plan is not None
    return plan


def test_the_return_and_the_infusion_window_move_past_the_resumption_and_the_rest_stays():
    plan = booked()
    resumed_at = plan.return_shipment.depart_at + timedelta(days=2)
    moved = return_plan(NET, ORDER, plan, not_before=resumed_at)
    assert moved is not None
    assert moved.return_shipment.depart_at >= resumed_at
    assert moved.infusion_window.from_day > plan.infusion_window.from_day
    assert (moved.apheresis, moved.pickup, moved.manufacturing, moved.qc_release) == (
        plan.apheresis, plan.pickup, plan.manufacturing, plan.qc_release)
    assert check_plan(NET, order_request(ORDER), moved) == []


def test_no_return_fits_once_the_product_is_past_its_stability():
    plan = booked()
    stability = timedelta(hours=NET.timing(synthetic.PRODUCT).final_stability_hours)
    assert return_plan(NET, ORDER, plan, not_before=plan.qc_release.ready_at + stability) is None


def test_resuming_before_the_planned_return_keeps_it():
    plan = booked()
    kept = return_plan(NET, ORDER, plan, not_before=plan.qc_release.ready_at)
    assert kept == plan
