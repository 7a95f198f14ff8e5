"""Generated networks and order books for tests and the B8 benchmark (deterministic per seed).

Collection sites (hospitals) and plants are spread over a few time zones; every hospital has a
lane to and from each of its ``plants_per_site`` nearest plants, running on weekdays with an
evening cut-off. Plants manufacture seven days a week (a started batch runs through weekends) but
only start batches on open days.
"""

from __future__ import annotations

import random
from datetime import date, time, timedelta

from .network import APHERESIS, INFUSION, MANUFACTURING, QC, Lane, Network, OrderRequest, Site, TimingRules

HOSPITAL_ZONES = ("Europe/Amsterdam", "Europe/London", "America/New_York", "Europe/Berlin", "America/Chicago")
PLANT_ZONES = ("Europe/Amsterdam", "America/New_York", "Europe/Dublin", "America/Los_Angeles")
PRODUCT = "CAR-T-1"


def network(*, hospitals: int, plants: int, days: int, start: date, plants_per_site: int = 3,
            chairs: int = 2, suites: int = 4, seed: int = 7) -> Network:
    rng = random.Random(seed)
    sites: dict[str, Site] = {}
    lanes: list[Lane] = []
    capacity: dict[tuple[str, str, date], int] = {}
    plant_ids = [f"PLANT-{p:02d}" for p in range(plants)]
    for p, plant_id in enumerate(plant_ids):
        sites[plant_id] = Site(plant_id, PLANT_ZONES[p % len(PLANT_ZONES)], frozenset({MANUFACTURING, QC}))
        for d in range(days + 40):  # manufacturing runs past the horizon's last start
            capacity[(plant_id, MANUFACTURING, start + timedelta(days=d))] = suites
    for h in range(hospitals):
        site_id = f"HOSP-{h:02d}"
        site = Site(site_id, HOSPITAL_ZONES[h % len(HOSPITAL_ZONES)], frozenset({APHERESIS, INFUSION}))
        sites[site_id] = site
        for d in range(days):
            day = start + timedelta(days=d)
            if site.open_on(day):
                capacity[(site_id, APHERESIS, day)] = chairs
        for k in range(min(plants_per_site, plants)):
            plant_id = plant_ids[(h + k) % plants]
            far = sites[plant_id].tz.split("/")[0] != site.tz.split("/")[0]
            hours = (30.0 if far else 8.0) + rng.choice((0.0, 2.0, 4.0))
            weekdays = frozenset(range(5))
            lanes.append(Lane(f"L-{site_id}-{plant_id}", site_id, plant_id, hours, time(18, 0), weekdays))
            lanes.append(Lane(f"L-{plant_id}-{site_id}", plant_id, site_id, hours, time(10, 0), weekdays))
    return Network(sites=sites, lanes=tuple(lanes), capacity=capacity,
                   rules={PRODUCT: TimingRules(manufacturing_days=10, qc_hours=72.0)})


def orders(net: Network, count: int, *, start: date, days: int, window: int = 14, seed: int = 11) -> list[OrderRequest]:
    """``count`` orders at random hospitals, earliest day spread over the horizon's first part."""
    rng = random.Random(seed)
    hospitals = sorted(s.id for s in net.sites.values() if APHERESIS in s.capabilities)
    made = []
    for i in range(count):
        earliest = start + timedelta(days=rng.randrange(max(1, days - window)))
        made.append(OrderRequest(id=f"ORD-{i:05d}", coi=f"COI-{i:05d}", treating_site=rng.choice(hospitals),
                                 product=PRODUCT, earliest=earliest, latest=earliest + timedelta(days=window - 1),
                                 priority=rng.choice((0, 0, 0, 1, 2))))
    return made
