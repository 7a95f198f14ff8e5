"""``ledger plan``'s booking step: the open book re-planned by CP-SAT is booked in one append,
orders that held a plan releasing it first, so orders may swap slots; all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.domain.orders import capacity_of, fold_capacity_day
from ledger.errors import RuleViolation
from ledger.planning.cpsat import replan
from ledger.services.executor import Context, Reads
from ledger.services.journeys import HOSPITAL
from ledger.services.network_demo import build_demo_network
from ledger.services.orders import order_request
from ledger.services.replanning import rebook
from projections.db import make_engine
from projections.orchestration import OrchestrationProjection
from projections.orchestration_query import network
from projections.runner import ProjectionRunner

SYSTEM = Context(actor="system")


@pytest.fixture
def book(seeded, database):
    today = datetime.now(UTC).date()
    build_demo_network(seeded, today, days=21, chairs=1)
    for n in range(2):
        coi = seeded.cases.enrol(Context(actor="system", site=HOSPITAL), kind="autologous", product="CAR-T",
                                 treating_site=HOSPITAL, mrn=f"MRN-BOOK-{n}").result.answer["coi"]
        seeded.orders.place(SYSTEM, order_id=f"ORD-B{n}", coi=coi, product="CAR-T", treating_site=HOSPITAL,
                            earliest=today + timedelta(days=3), latest=today + timedelta(days=12), priority=n)
    engine = make_engine(database)
    runner = ProjectionRunner(seeded.ledger, engine, [OrchestrationProjection()])

    def network_now(held_by=()):
        runner.catch_up()
        with engine.connect() as conn:
            return network(conn, held_by=held_by)

    yield seeded, network_now
    engine.dispose()


def test_the_open_book_is_placed_and_moved_in_one_append(book):
    services, network_now = book
    requests = [order_request(services.orders.order(o)) for o in ("ORD-B0", "ORD-B1")]
    placed = replan(network_now(), requests, time_limit_s=5).placed
    assert set(placed) == {"ORD-B0", "ORD-B1"}
    assert placed["ORD-B0"].apheresis.day != placed["ORD-B1"].apheresis.day  # one chair a day
    assert rebook(services.executor, SYSTEM, placed, reason="placed") == 2 * 11 + 2
    # swap them: each takes the other's chair; possible only because both release first, in one append
    swapped = {"ORD-B0": placed["ORD-B1"], "ORD-B1": placed["ORD-B0"]}
    position = services.ledger.last_position()
    rebook(services.executor, SYSTEM, swapped, reason="re-planned with the open book")
    assert services.orders.order("ORD-B0").plan == placed["ORD-B1"]
    assert services.orders.order("ORD-B1").plan == placed["ORD-B0"]
    reads = Reads(services.ledger)
    for order, plan in swapped.items():
        chair = fold_capacity_day(reads.envelopes(capacity_of((HOSPITAL, "apheresis", plan.apheresis.day))))
        assert chair.booked == (order,) and chair.free == 0
    assert services.ledger.last_position() > position
    # all or nothing: a move onto a taken chair leaves every plan as it was
    third = services.cases.enrol(Context(actor="system", site=HOSPITAL), kind="autologous", product="CAR-T",
                                 treating_site=HOSPITAL, mrn="MRN-BOOK-9").result.answer["coi"]
    services.orders.place(SYSTEM, order_id="ORD-B9", coi=third, product="CAR-T", treating_site=HOSPITAL,
                          earliest=placed["ORD-B0"].apheresis.day, latest=placed["ORD-B0"].apheresis.day)
    position = services.ledger.last_position()
    with pytest.raises(RuleViolation) as refused:
        rebook(services.executor, SYSTEM, {"ORD-B9": placed["ORD-B0"], "ORD-B1": placed["ORD-B1"]}, reason="x")
    assert refused.value.code == "SLOT_UNAVAILABLE" and services.ledger.last_position() == position
