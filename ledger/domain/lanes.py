"""A courier lane's aggregate and its decision: defined between two sites with planning profiles."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from ..errors import InvalidEvent
from ..streams import lane_stream
from .base import Envelope, NewEvent, event_of, refusal, require_aware, validate
from .events_orders import LaneDefined
from .folding import fold
from .orders import SiteProfile


@dataclass(frozen=True)
class LaneState:
    stream: UUID | None = None
    version: int = 0
    lane: LaneDefined | None = None


def _evolve_lane(s: LaneState, event: Any, _: Envelope) -> LaneState:
    match event:
        case LaneDefined():
            return replace(s, lane=event)
    return s


def fold_lane(envelopes: Iterable[Envelope]) -> LaneState:
    return fold(LaneState(), _evolve_lane, envelopes)


def decide_lane(current: LaneState, origin: SiteProfile, destination: SiteProfile, *, lane: str, origin_site: str,
                destination_site: str, transit_hours: float, cutoff: str, days: list[int],
                now: datetime) -> list[NewEvent]:
    """Define (or redefine) the lane; the definition it already has is refused (``NO_CHANGE``)."""
    require_aware(now)
    if origin_site == destination_site:
        raise InvalidEvent("a lane runs between two different sites", code="LANE_SITES")
    for state, site in ((origin, origin_site), (destination, destination_site)):
        if state.profile is None:
            raise InvalidEvent(f"site {site} has no planning profile: set it first", code="LANE_SITES")
    defined = validate(LaneDefined, lane=lane, origin=origin_site, destination=destination_site,
                       transit_hours=transit_hours, cutoff=cutoff, days=days)
    if defined == current.lane:
        raise refusal("NO_CHANGE", f"lane {lane} is already defined so")
    return [event_of(lane_stream(lane), defined)]
