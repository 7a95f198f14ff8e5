"""Local days and UTC instants of the planning time model (see ``network``).

Every comparison across sites is done on UTC instants; a site's day and its fixed local times
(cut-offs, collection ready, manufacturing start) are converted here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from .network import Lane, Network


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def at(tz: str, day: date, clock: time) -> datetime:
    """The UTC instant of local ``clock`` on local ``day`` in zone ``tz``."""
    return datetime.combine(day, clock, tzinfo=_zone(tz)).astimezone(UTC)


def day_of(tz: str, instant: datetime) -> date:
    """The local calendar day in zone ``tz`` that contains ``instant``."""
    return instant.astimezone(_zone(tz)).date()


def end_of(tz: str, day: date) -> datetime:
    """Local midnight after ``day`` (the instant the day ends), in UTC."""
    return at(tz, day + timedelta(days=1), time(0))


def departs_on(network: Network, lane: Lane, day: date) -> bool:
    """Whether ``lane`` runs on the origin's local ``day``: a lane day and the origin open."""
    return day.weekday() in lane.days and network.sites[lane.origin].open_on(day)


def departures(network: Network, lane: Lane, after: datetime, until: datetime) -> Iterator[datetime]:
    """``lane``'s departures at or after ``after`` and not after ``until``, earliest first."""
    tz = network.sites[lane.origin].tz
    day = day_of(tz, after) - timedelta(days=1)
    while True:
        leaves = at(tz, day, lane.cutoff)
        if leaves > until:
            return
        if leaves >= after and departs_on(network, lane, day):
            yield leaves
        day += timedelta(days=1)
