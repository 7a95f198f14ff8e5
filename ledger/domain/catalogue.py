"""Every domain event type, by name, and the catalogue built from them."""

from __future__ import annotations

from ..catalogue import EventCatalogue
from ..datatypes import EventData
from ..keyevents import KEY_EVENTS
from .events_case import CASE_EVENTS
from .events_quality import QUALITY_EVENTS
from .events_registry import REGISTRY_EVENTS
from .events_unit import UNIT_EVENTS

DOMAIN_EVENTS: dict[str, type[EventData]] = {
    **KEY_EVENTS,  # type: ignore[dict-item]
    **CASE_EVENTS,
    **UNIT_EVENTS,
    **QUALITY_EVENTS,
    **REGISTRY_EVENTS,
}


def build_catalogue() -> EventCatalogue:
    return EventCatalogue(DOMAIN_EVENTS)
