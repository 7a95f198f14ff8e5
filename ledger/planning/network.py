"""What the planner plans over: the network's sites, lanes, free capacity and timing rules, and
the orders to place. Plain frozen values, built by the orchestration read models from master-data
events; the planner, the constraint checker and the benchmark all take these and nothing else.

Time model (the constraints in ``constraints`` are stated in these terms):

- A *day* is a calendar day in the site's own time zone (``Site.tz``); a site is open on a day unless
  its weekday is in ``closed_weekdays`` or the day is in ``holidays``.
- Apheresis happens at the order's treating site on an open day; the cells are ready for pickup at
  ``TimingRules.collection_ready`` local time that day.
- A lane carries a shipment from ``origin`` to ``destination``: it departs at its ``cutoff`` (origin
  local time) on a day whose weekday is in ``days`` and the origin is open; it arrives
  ``transit_hours`` later.
- Manufacturing starts on an open day at the plant, at ``TimingRules.manufacturing_start`` local time,
  not before arrival and within ``fresh_shelf_life_hours`` of the cells being ready; it occupies one
  manufacturing suite on each of ``manufacturing_days`` consecutive days.
- QC/release is ready ``qc_hours`` after the end of the last manufacturing day (local midnight after it).
- The return shipment departs on a lane from the plant to the treating site, not before QC release;
  the infusion window runs from the arrival's local day for ``infusion_window_days`` days, never past
  the final product's stability (``final_stability_hours`` after QC release).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time

APHERESIS = "apheresis"
MANUFACTURING = "manufacturing"
QC = "qc"
INFUSION = "infusion"
CAPABILITIES = (APHERESIS, MANUFACTURING, QC, INFUSION)

RESOURCES = (APHERESIS, MANUFACTURING)
"""Resources with a per-day slot count: apheresis chairs and manufacturing suites."""


@dataclass(frozen=True)
class Site:
    id: str
    tz: str
    """IANA time zone name, e.g. ``Europe/Amsterdam``."""
    capabilities: frozenset[str]
    closed_weekdays: frozenset[int] = frozenset({5, 6})
    """``date.weekday()`` numbers (Monday 0) the site is closed on."""
    holidays: frozenset[date] = frozenset()

    def open_on(self, day: date) -> bool:
        return day.weekday() not in self.closed_weekdays and day not in self.holidays


@dataclass(frozen=True)
class Lane:
    id: str
    origin: str
    destination: str
    transit_hours: float
    cutoff: time
    """Departure time, in the origin's local time."""
    days: frozenset[int] = frozenset(range(7))
    """Weekdays (Monday 0) the lane runs on."""


@dataclass(frozen=True)
class TimingRules:
    """A product's timing, from its approved specification."""

    fresh_shelf_life_hours: float = 48.0
    manufacturing_days: int = 10
    qc_hours: float = 72.0
    final_stability_hours: float = 14 * 24.0
    infusion_window_days: int = 3
    collection_ready: time = time(14, 0)
    manufacturing_start: time = time(8, 0)


@dataclass(frozen=True)
class OrderRequest:
    id: str
    coi: str
    treating_site: str
    product: str
    earliest: date
    """Earliest apheresis day (treating site's local calendar)."""
    latest: date
    """Latest apheresis day."""
    priority: int = 0
    """Higher is more urgent; the re-planner places higher priorities first when capacity is short."""


@dataclass(frozen=True)
class Network:
    sites: Mapping[str, Site]
    lanes: tuple[Lane, ...]
    capacity: Mapping[tuple[str, str, date], int]
    """Slots per (site, resource, local day); a missing key means no slots."""
    rules: Mapping[str, TimingRules] = field(default_factory=dict)
    """Timing rules per product; a product without its own uses ``TimingRules()``."""

    def timing(self, product: str) -> TimingRules:
        return self.rules.get(product, TimingRules())

    def lanes_between(self, origin: str, destination: str) -> tuple[Lane, ...]:
        return tuple(lane for lane in self.lanes if lane.origin == origin and lane.destination == destination)
