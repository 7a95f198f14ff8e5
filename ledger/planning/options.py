"""Each order's candidate plans, generated from the network: the planners' only source of plans.

An ``Option`` is a plan in raw form (no model validation, cheap to build in thousands) with the
slots it occupies. Options are generated per apheresis day; the return leg does not use per-day
capacity, so each option takes the earliest return that fits the product's stability.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import NamedTuple

from . import clock
from .constraints import Slot, last_infusion_day, release_at
from .model import ApheresisLeg, InfusionWindow, ManufacturingLeg, PickupLeg, Plan, QCReleaseLeg, ReturnLeg
from .network import APHERESIS, INFUSION, MANUFACTURING, QC, Lane, Network, OrderRequest


class Option(NamedTuple):
    apheresis_day: date
    pickup: Lane
    depart_at: datetime
    arrive_at: datetime
    plant: str
    start_day: date
    end_day: date
    released: datetime
    back: Lane
    back_depart_at: datetime
    back_arrive_at: datetime
    infusion_from: date
    infusion_to: date
    slots: tuple[Slot, ...]

    def plan(self, treating_site: str) -> Plan:
        return Plan(
            apheresis=ApheresisLeg(site=treating_site, day=self.apheresis_day),
            pickup=PickupLeg(lane=self.pickup.id, depart_at=self.depart_at, arrive_at=self.arrive_at),
            manufacturing=ManufacturingLeg(site=self.plant, start_day=self.start_day, end_day=self.end_day),
            qc_release=QCReleaseLeg(site=self.plant, ready_at=self.released),
            return_shipment=ReturnLeg(lane=self.back.id, depart_at=self.back_depart_at,
                                      arrive_at=self.back_arrive_at),
            infusion_window=InfusionWindow(site=treating_site, from_day=self.infusion_from, to_day=self.infusion_to),
        )


Fits = Callable[[Slot], bool]
"""Whether one more unit of a slot is available."""


def apheresis_days(network: Network, order: OrderRequest, not_before: datetime | None = None) -> Iterator[date]:
    """Open days at the treating site within the order's window whose cells are ready at/after ``not_before``."""
    site = network.sites.get(order.treating_site)
    if site is None or APHERESIS not in site.capabilities or INFUSION not in site.capabilities:
        return
    ready_at = network.timing(order.product).collection_ready
    day = order.earliest
    while day <= order.latest:
        if site.open_on(day) and (not_before is None or clock.at(site.tz, day, ready_at) >= not_before):
            yield day
        day += timedelta(days=1)


def day_options(network: Network, order: OrderRequest, day: date, fits: Fits) -> list[Option]:
    """Every route for apheresis on ``day`` whose slots ``fits`` accepts (the apheresis slot included)."""
    site = network.sites[order.treating_site]
    aph_slot = (order.treating_site, APHERESIS, day)
    if not fits(aph_slot):
        return []
    rules = network.timing(order.product)
    ready = clock.at(site.tz, day, rules.collection_ready)
    fresh_until = ready + timedelta(hours=rules.fresh_shelf_life_hours)
    found: list[Option] = []
    returns: dict[tuple[str, date], tuple | None] = {}
    for lane in network.lanes:
        if lane.origin != order.treating_site:
            continue
        plant = network.sites.get(lane.destination)
        if plant is None or MANUFACTURING not in plant.capabilities or QC not in plant.capabilities:
            continue
        for leaves in clock.departures(network, lane, ready, fresh_until):
            arrives = leaves + timedelta(hours=lane.transit_hours)
            start_day = clock.day_of(plant.tz, arrives)
            while (starts := clock.at(plant.tz, start_day, rules.manufacturing_start)) <= fresh_until:
                if starts >= arrives and plant.open_on(start_day):
                    mfg = tuple((plant.id, MANUFACTURING, start_day + timedelta(days=i))
                                for i in range(rules.manufacturing_days))
                    end_day = mfg[-1][2]
                    if all(fits(slot) for slot in mfg):
                        key = (plant.id, end_day)
                        if key not in returns:
                            returns[key] = earliest_return(network, order, plant.id, end_day)
                        back = returns[key]
                        if back is not None:
                            found.append(Option(day, lane, leaves, arrives, plant.id, start_day, end_day,
                                                *back, slots=(aph_slot, *mfg)))
                start_day += timedelta(days=1)
    return found


def earliest_return(network: Network, order: OrderRequest, plant: str, end_day: date, *,
                    not_before: datetime | None = None) -> tuple | None:
    """(released, lane, depart, arrive, infusion from, infusion to) of the earliest-arriving return
    leaving at or after the release (and ``not_before``), if any."""
    rules = network.timing(order.product)
    released = release_at(network, order, plant, end_day)
    expiry = released + timedelta(hours=rules.final_stability_hours)
    tz = network.sites[order.treating_site].tz
    best = None
    for lane in network.lanes_between(plant, order.treating_site):
        for leaves in clock.departures(network, lane, max(released, not_before or released), expiry):
            arrives = leaves + timedelta(hours=lane.transit_hours)
            first = clock.day_of(tz, arrives)
            last = last_infusion_day(network, order, first, released)
            if last >= first and (best is None or arrives < best[3]):
                best = (released, lane, leaves, arrives, first, last)
            break  # a later departure of the same lane only arrives later
    return best


def earliness(option: Option) -> tuple:
    """Sort key: the earliest infusion, then the earliest return, then the earliest collection."""
    return option.infusion_from, option.back_arrive_at, option.apheresis_day, option.start_day
