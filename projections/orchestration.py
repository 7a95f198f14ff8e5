"""The orchestration read model: the network's master data, capacity and orders as the planner
and the order routes read them, and what actually happened to each ordered case.

* ``plan_sites``, ``plan_lanes``: the latest ``SiteProfileSet`` per site, ``LaneDefined`` per lane.
* ``plan_capacity``: slots declared (``CapacityDeclared``) and booked (``SlotBooked`` less
  ``SlotReleased``) per site, resource and local day.
* ``plan_orders``: each order, its status (``ordered``, ``booked``, ``cancelled``), the plan it
  holds, the first plan it booked (for planned vs actual), its slots and why it was last re-planned.
* ``plan_cases``, ``plan_actuals``: each case's treating site and the first time each milestone
  happened (``MILESTONES``), from the events of the case's units and lots.

A member of the read-model group (``projections.read_models``). Queries and the ``Network``
builder: ``projections.orchestration_query``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from ledger.datatypes import EventData
from ledger.domain.events_case import CaseEnrolled
from ledger.domain.events_orders import (
    CapacityDeclared,
    LaneDefined,
    OrderCancelled,
    OrderPlanBooked,
    OrderPlanReleased,
    SiteProfileSet,
    SlotBooked,
    SlotReleased,
    TherapyOrdered,
)
from ledger.domain.events_quality import (
    ManufacturingStarted,
    ProductFilled,
    ProductInfused,
    ProductReleased,
    QCResultRecorded,
)
from ledger.domain.events_unit import MaterialCollected, ShipmentDelivered, ShipmentDispatched

from .common import ReadModel, dumps, sql, utc_text, when

MILESTONES = ("collected", "shipped", "received", "manufacturing_started", "manufactured", "qc_failed",
              "released", "return_shipped", "returned", "infused")
"""What actually happens to a case, in the order a therapy goes through it."""


CACHE_SIZE = 200_000


class OrchestrationProjection(ReadModel):
    name = "orchestration"
    tables = ("plan_sites", "plan_lanes", "plan_capacity", "plan_orders", "plan_cases", "plan_actuals")

    def __init__(self) -> None:
        super().__init__()
        self._treating: dict[str, str | None] = {}  # coi -> treating site, as plan_cases has it
        self._cases = self.insert_once("plan_cases", ("coi", "treating_site"), ("coi",))
        self._actuals = self.insert_once("plan_actuals", ("coi", "milestone", "at", "site", "position"),
                                         ("coi", "milestone"))

    def _milestone(self, conn: Connection, position: int, env: Mapping[str, Any], milestone: str,
                   site: str | None, coi: str | None = None) -> None:
        coi = coi or self.directory.coi(conn, env["stream"])
        if coi is None:
            return
        self._actuals.insert(conn, {"coi": coi, "milestone": milestone, "at": utc_text(when(env)), "site": site,
                                    "position": position})

    def _homeward(self, conn: Connection, env: Mapping[str, Any], to_site: str) -> bool | None:
        """Whether a shipment goes to the case's treating site (None: not a case's unit)."""
        coi = self.directory.coi(conn, env["stream"])
        if coi is None:
            return None
        if coi not in self._treating:
            row = conn.execute(sql("SELECT treating_site FROM plan_cases WHERE coi = :c"), {"c": coi}).first()
            if row is None:
                return False
            self._remember(coi, row[0])
        return self._treating[coi] == to_site

    def _remember(self, coi: str, site: str | None) -> None:
        """A case's treating site is a fact of its first enrolment (``plan_cases`` keeps the first and
        never changes it), so it is kept across batches like the stream directory: a rolled-back
        batch replays the same enrolment first. Bounded: forgotten wholesale past CACHE_SIZE."""
        if len(self._treating) >= CACHE_SIZE:
            self._treating.clear()
        self._treating.setdefault(coi, site)

    def _capacity(self, conn: Connection, site: str, resource: str, day: Any, *, slots: int | None = None,
                  booked: int = 0) -> None:
        params = {"s": site, "r": resource, "d": day.isoformat(), "n": slots or 0, "b": booked}
        conn.execute(sql("INSERT INTO plan_capacity (site, resource, day, slots, booked) VALUES (:s, :r, :d, :n, 0) "
                         "ON CONFLICT (site, resource, day) DO NOTHING"), params)
        if slots is not None:
            conn.execute(sql("UPDATE plan_capacity SET slots = :n WHERE site = :s AND resource = :r AND day = :d"),
                         params)
        if booked:
            conn.execute(sql("UPDATE plan_capacity SET booked = booked + :b "
                             "WHERE site = :s AND resource = :r AND day = :d"), params)

    def project(self, conn: Connection, position: int, env: Mapping[str, Any], data: EventData | None) -> None:
        match data:
            case SiteProfileSet(site=site, capabilities=caps, tz=tz, closed_weekdays=closed, holidays=holidays):
                params = {"s": site, "tz": tz, "c": dumps(caps), "w": dumps(closed),
                          "h": dumps([d.isoformat() for d in holidays])}
                conn.execute(sql("DELETE FROM plan_sites WHERE site = :s"), params)
                conn.execute(sql("INSERT INTO plan_sites (site, tz, capabilities, closed_weekdays, holidays) "
                                 "VALUES (:s, :tz, :c, :w, :h)"), params)
            case LaneDefined(lane=lane, origin=origin, destination=destination, transit_hours=hours, cutoff=cutoff,
                             days=days):
                params = {"l": lane, "o": origin, "d": destination, "t": hours, "c": cutoff, "w": dumps(days)}
                conn.execute(sql("DELETE FROM plan_lanes WHERE lane = :l"), params)
                conn.execute(sql("INSERT INTO plan_lanes (lane, origin, destination, transit_hours, cutoff, days) "
                                 "VALUES (:l, :o, :d, :t, :c, :w)"), params)
            case CapacityDeclared(site=site, resource=resource, day=day, slots=slots):
                self._capacity(conn, site, resource, day, slots=slots)
            case SlotBooked(site=site, resource=resource, day=day):
                self._capacity(conn, site, resource, day, booked=1)
            case SlotReleased(site=site, resource=resource, day=day):
                self._capacity(conn, site, resource, day, booked=-1)
            case TherapyOrdered(order=order, coi=coi, product=product, treating_site=site, earliest=earliest,
                                latest=latest, priority=priority):
                conn.execute(sql(
                    "INSERT INTO plan_orders (order_id, coi, product, treating_site, earliest, latest, priority, "
                    "status, plans, ordered_at, ordered_by, position) VALUES (:o, :c, :p, :s, :e, :l, :pr, 'ordered', "
                    "0, :at, :by, :pos)"),
                    {"o": order, "c": coi, "p": product, "s": site, "e": earliest.isoformat(),
                     "l": latest.isoformat(), "pr": priority, "at": utc_text(when(env)), "by": env["actor"],
                     "pos": position})
            case OrderPlanBooked(order=order, plan=plan, slots=slots, reason=reason):
                text = dumps(plan.model_dump(mode="json"))
                conn.execute(sql(
                    "UPDATE plan_orders SET status = 'booked', plant = :plant, plan = :plan, "
                    "first_plan = COALESCE(first_plan, :plan), slots = :slots, plans = plans + 1, reason = :r, "
                    "position = :pos WHERE order_id = :o"),
                    {"o": order, "plant": plan.manufacturing.site, "plan": text,
                     "slots": dumps([s.model_dump(mode="json") for s in slots]), "r": dumps(reason),
                     "pos": position})
            case OrderPlanReleased(order=order, reason=reason):
                conn.execute(sql("UPDATE plan_orders SET status = 'ordered', plan = NULL, slots = NULL, reason = :r, "
                                 "position = :pos WHERE order_id = :o"),
                             {"o": order, "r": dumps(reason), "pos": position})
            case OrderCancelled(order=order, reason=reason):
                conn.execute(sql("UPDATE plan_orders SET status = 'cancelled', plan = NULL, slots = NULL, "
                                 "reason = :r, position = :pos WHERE order_id = :o"),
                             {"o": order, "r": dumps(reason), "pos": position})
            case CaseEnrolled(coi=coi, treating_site=site):
                self._cases.insert(conn, {"coi": coi, "treating_site": site})
                self._remember(coi, site)
            case MaterialCollected(collection_site=site):
                self._milestone(conn, position, env, "collected", site)
            case ShipmentDispatched(from_site=origin, to_site=to_site):
                home = self._homeward(conn, env, to_site)
                if home is not None:
                    self._milestone(conn, position, env, "return_shipped" if home else "shipped", origin)
            case ShipmentDelivered(to_site=to_site):
                home = self._homeward(conn, env, to_site)
                if home is not None:
                    self._milestone(conn, position, env, "returned" if home else "received", to_site)
            case ManufacturingStarted(coi=coi, site=site):
                self._milestone(conn, position, env, "manufacturing_started", site, coi)
            case ProductFilled():
                self._milestone(conn, position, env, "manufactured", env.get("site"))
            case QCResultRecorded(result="fail"):
                self._milestone(conn, position, env, "qc_failed", env.get("site"))
            case ProductReleased(coi=coi):
                self._milestone(conn, position, env, "released", env.get("site"), coi)
            case ProductInfused(coi=coi):
                self._milestone(conn, position, env, "infused", env.get("site"), coi)
