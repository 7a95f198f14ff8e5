"""Twenty bookings race for the last free apheresis chair of a day (threads, one real SQLite or
PostgreSQL database): exactly one wins, every other is refused ``SLOT_UNAVAILABLE`` (409), and the
day is never overbooked, because each booking appends to the capacity-day streams expecting the
versions it decided on."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from ledger.domain.orders import capacity_of, fold_capacity_day, plan_slots
from ledger.errors import LedgerError
from ledger.planning.greedy import plan_one
from ledger.services.executor import Context, Reads
from ledger.services.journeys import HOSPITAL
from ledger.services.network_demo import build_demo_network
from ledger.services.orders import order_request
from projections.db import make_engine
from projections.orchestration import OrchestrationProjection
from projections.orchestration_query import network
from projections.runner import ProjectionRunner

RACERS = 20


@pytest.fixture
def book(seeded, database):
    today = datetime.now(UTC).date()
    build_demo_network(seeded, today, days=14, suites=RACERS + 5)
    system = Context(actor="system")
    orders = []
    for n in range(RACERS):
        coi = seeded.cases.enrol(Context(actor="system", site=HOSPITAL), kind="autologous", product="CAR-T",
                                 treating_site=HOSPITAL, mrn=f"MRN-RACE-{n}").result.answer["coi"]
        seeded.orders.place(system, order_id=f"ORD-R{n:02d}", coi=coi, product="CAR-T", treating_site=HOSPITAL,
                            earliest=today + timedelta(days=3), latest=today + timedelta(days=10))
        orders.append(f"ORD-R{n:02d}")
    engine = make_engine(database)
    ProjectionRunner(seeded.ledger, engine, [OrchestrationProjection()]).catch_up()
    with engine.connect() as conn:
        net = network(conn)  # the network as the read model knows it
    engine.dispose()
    plans = {o: plan_one(net, order_request(seeded.orders.order(o))) for o in orders}
    day = plans[orders[0]].apheresis.day
    assert all(p is not None and p.apheresis.day == day for p in plans.values())
    seeded.orders.declare_capacity(system, site=HOSPITAL, resource="apheresis", first=day, last=day, slots=1)
    return seeded, plans


def test_exactly_one_of_twenty_concurrent_bookings_takes_the_last_slot(book):
    services, plans = book
    start = threading.Barrier(RACERS)
    won, refused, failed = [], [], []

    def racer(order_id: str) -> None:
        ctx = Context(actor="clinician", site=HOSPITAL, scope=(HOSPITAL,))
        start.wait()
        try:
            services.orders.book(ctx, order_id=order_id, plan=plans[order_id])
            won.append(order_id)
        except LedgerError as refusal:
            (refused if (refusal.status, refusal.code) == (409, "SLOT_UNAVAILABLE") else failed).append(refusal)

    threads = [threading.Thread(target=racer, args=(o,)) for o in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failed == [] and len(won) == 1 and len(refused) == RACERS - 1
    reads = Reads(services.ledger)
    winner = plans[won[0]]
    for key in plan_slots(winner):
        day = fold_capacity_day(reads.envelopes(capacity_of(key)))
        assert day.booked == (won[0],) and day.free >= 0
    chair = fold_capacity_day(reads.envelopes(capacity_of((HOSPITAL, "apheresis", winner.apheresis.day))))
    assert (chair.slots, chair.free) == (1, 0)
    assert services.orders.order(won[0]).plan == winner
    assert all(services.orders.order(o).plan is None for o in plans if o != won[0])
