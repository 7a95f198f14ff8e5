"""Every domain event type, by name, and the catalogue built from them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def typed(type_name: str, data: Mapping[str, Any]) -> EventData | None:
    """A stored event's ``data`` as its typed model, for folds and read models that ``match`` on
    it; ``None`` for a type this code does not know. Stored data was validated when it was
    written, so this only rebuilds the typed values (times, nested models)."""
    model = DOMAIN_EVENTS.get(type_name)
    return None if model is None else model.model_validate(data)
