"""The re-planner: a follower of the log that moves a booked order's remaining legs when the case's
actual events deviate from its plan (``ledger.services.replanning``).

* late delivery: a unit of the case delivered at the plan's plant later than the pickup's planned
  arrival; manufacturing and what follows start from the actual arrival (within the fresh shelf life);
* failed QC: a QC result ``fail`` on a unit of the case before its release; the product is made again
  from the failure on (a re-manufacture from retained starting material);
* a case put on hold (the patient not fit for infusion, say): ``slot_at_risk`` at once; resumed:
  what is not done yet is planned again from then on (``ReplanService.resumed``);
* a shipment dispatched on a booked plan's leg (to the plant, or back to the treating site) is
  expected at that leg's planned arrival: ``expect_arrival`` (the alerts' durable timer) raises
  ``shipment_late`` if it is not delivered by then. A shipment already delivered is not expected.

What it does is idempotent by state (a plan moved already shows no deviation), so a batch
re-applied after a crash changes nothing. Tracked as ``replanner`` in ``projection_tracking``; it
writes through the ledger's services outside the tracking transaction, never inside it (a follower
holding the write lock would block its own appends on SQLite).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Engine

from ledger.domain.case import fold_case
from ledger.domain.catalogue import typed
from ledger.domain.events_case import CaseOnHold, CaseResumed
from ledger.domain.events_quality import QCResultRecorded
from ledger.domain.events_unit import ShipmentDelivered, ShipmentDispatched
from ledger.domain.unit import fold_unit
from ledger.planning.network import Network
from ledger.polling import Poller
from ledger.services.executor import Reads
from ledger.services.replanning import ReplanService
from ledger.store.application import Ledger
from ledger.timefmt import parse_utc

from .common import sql, when
from .orchestration_query import actuals, network
from .runner import _advance, tracked_position

log = logging.getLogger(__name__)

NAME = "replanner"

ExpectArrival = Callable[..., None]
"""``expect_arrival(tracking, expected_at, sites, coi)``: the alerts' planned-arrival timer."""


class Replanner:
    def __init__(self, ledger: Ledger, engine: Engine, replans: ReplanService,
                 timing: Callable[[str], Any], caught_up: Callable[[], bool] = lambda: True,
                 batch_size: int = 200, expect_arrival: ExpectArrival | None = None) -> None:
        """``caught_up()``: the orchestration read model has applied the log so far (the network and
        the orders by COI are read from it)."""
        self.ledger, self.engine, self.replans, self.timing = ledger, engine, replans, timing
        self.expect_arrival = expect_arrival
        self.caught_up, self.batch_size = caught_up, batch_size
        self._poller: Poller | None = None

    def network_for(self, order_id: str) -> Network:
        order = self.replans.orders.order(order_id)
        product = order.ordered.product if order.ordered else ""
        with self.engine.connect() as conn:
            return network(conn, {product: self.timing(product)}, held_by=[order_id])

    def _booked_orders(self, coi: str) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(sql(
                "SELECT order_id FROM plan_orders WHERE coi = :c AND status = 'booked' ORDER BY order_id"), {"c": coi})]

    def run_once(self) -> int:
        with self.engine.connect() as conn:
            after = tracked_position(conn, NAME)
        batch = self.ledger.read_log(after=after, limit=self.batch_size)
        if not batch or not self.caught_up():  # stale read models could miss a booking: try again later
            return 0
        for _, event in batch:
            self.handle(event.envelope)
        with self.engine.begin() as conn:
            _advance(conn, NAME, batch[-1][0])
        return len(batch)

    def catch_up(self) -> int:
        total = 0
        while n := self.run_once():
            total += n
        return total

    def handle(self, env: dict[str, Any]) -> None:
        if env["type"] in (CaseOnHold.__name__, CaseResumed.__name__):
            self._hold(env)
            return
        if env["type"] not in (ShipmentDelivered.__name__, QCResultRecorded.__name__, ShipmentDispatched.__name__):
            return
        data = typed(env["type"], env["data"])
        if isinstance(data, QCResultRecorded) and data.result != "fail":
            return
        if isinstance(data, ShipmentDispatched) and self.expect_arrival is None:
            return
        envelopes = Reads(self.ledger).envelopes(UUID(str(env["stream"])))
        unit = fold_unit(envelopes)
        if unit.coi is None:
            return
        at = parse_utc(when(env))
        for order_id in self._booked_orders(unit.coi):
            plan = self.replans.orders.order(order_id).plan
            if plan is None:
                continue
            if isinstance(data, ShipmentDispatched):
                self._expect(data, plan, unit.coi, envelopes)
            elif isinstance(data, ShipmentDelivered):
                if data.to_site == plan.manufacturing.site and at > plan.pickup.arrive_at:
                    self.replans.deviated(self.network_for, order_id, available_at=at, arrived_at=at,
                                          reason=f"late delivery: arrived {env_time(at)}, planned "
                                                 f"{env_time(plan.pickup.arrive_at)}",
                                          kept_legs=["apheresis", "pickup"])
            elif plan.manufacturing.start_day <= at.date():  # not yet moved past the failure
                self.replans.deviated(self.network_for, order_id, available_at=at, fresh=False,
                                      reason="failed QC: re-manufacture", kept_legs=["apheresis", "pickup"])

    def _hold(self, env: dict[str, Any]) -> None:
        """A case on hold puts its booked plan at risk; resumed, the rest is planned again."""
        case = fold_case(Reads(self.ledger).envelopes(UUID(str(env["stream"]))))
        if case.coi is None:
            return
        data = typed(env["type"], env["data"])
        for order_id in self._booked_orders(case.coi):
            if isinstance(data, CaseOnHold):
                self.replans.on_hold(order_id, data.reason)
            else:
                with self.engine.connect() as conn:
                    done = actuals(conn, case.coi)
                self.replans.resumed(self.network_for, order_id, at=parse_utc(when(env)), done=done)

    def _expect(self, shipment: ShipmentDispatched, plan: Any, coi: str, envelopes: list[dict[str, Any]]) -> None:
        """Expect a dispatched shipment at its plan leg's arrival, unless it has arrived already (a
        follower catching up sees the dispatch after the delivery was recorded)."""
        if shipment.to_site == plan.manufacturing.site:
            expected = plan.pickup.arrive_at
        elif shipment.to_site == plan.infusion_window.site and shipment.from_site == plan.manufacturing.site:
            expected = plan.return_shipment.arrive_at
        else:
            return
        delivered = any(e["type"] == ShipmentDelivered.__name__ and e["data"].get("tracking") == shipment.tracking
                        for e in envelopes)
        if not delivered and self.expect_arrival is not None:
            self.expect_arrival(shipment.tracking, expected, [shipment.from_site, shipment.to_site], coi)

    def start(self, poll_interval: float = 0.5) -> None:
        if self._poller is None:
            self._poller = Poller("replanner", self.run_once, poll_interval)
            self._poller.start()

    def stop(self) -> None:
        if self._poller is not None:
            self._poller.stop()
            self._poller = None


def env_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")
