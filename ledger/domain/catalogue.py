"""Every domain event type, by name, its :class:`~.spec.EventSpec`, and the catalogue built
from them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..datatypes import EventData
from ..keys.keyevents import KEY_EVENTS, KEY_SPECS
from ..store.event_types import EventCatalogue
from .events_access import ACCESS_EVENTS, ACCESS_SPECS
from .events_alert import ALERT_EVENTS, ALERT_SPECS
from .events_case import CASE_EVENTS, CASE_SPECS
from .events_ledger import LEDGER_EVENTS, LEDGER_SPECS
from .events_orders import ORDER_EVENTS, ORDER_SPECS
from .events_qualification import QUALIFICATION_EVENTS, QUALIFICATION_SPECS
from .events_quality import QUALITY_EVENTS, QUALITY_SPECS
from .events_registry import REGISTRY_EVENTS, REGISTRY_SPECS
from .events_release import RELEASE_EVENTS, RELEASE_SPECS
from .events_review import REVIEW_EVENTS, REVIEW_SPECS
from .events_spec import SPEC_EVENTS, SPEC_SPECS
from .events_unit import UNIT_EVENTS, UNIT_SPECS
from .events_webhooks import WEBHOOK_EVENTS, WEBHOOK_SPECS
from .events_witness import WITNESS_EVENTS, WITNESS_SPECS
from .spec import EventSpec

DOMAIN_EVENTS: dict[str, type[EventData]] = {
    **KEY_EVENTS,
    **CASE_EVENTS,
    **UNIT_EVENTS,
    **QUALITY_EVENTS,
    **REGISTRY_EVENTS,
    **ACCESS_EVENTS,
    **LEDGER_EVENTS,
    **QUALIFICATION_EVENTS,
    **REVIEW_EVENTS,
    **WITNESS_EVENTS,
    **RELEASE_EVENTS,
    **SPEC_EVENTS,
    **ALERT_EVENTS,
    **WEBHOOK_EVENTS,
    **ORDER_EVENTS,
}


SPECS: dict[str, EventSpec[Any]] = {
    spec.type: spec for spec in (*KEY_SPECS, *CASE_SPECS, *UNIT_SPECS, *QUALITY_SPECS, *REGISTRY_SPECS,
                                    *ACCESS_SPECS, *LEDGER_SPECS, *QUALIFICATION_SPECS, *REVIEW_SPECS,
                                    *WITNESS_SPECS, *RELEASE_SPECS, *SPEC_SPECS,
                                    *ALERT_SPECS, *WEBHOOK_SPECS, *ORDER_SPECS)
}
"""Every event type's spec, by type name (a test keeps it equal to ``DOMAIN_EVENTS``)."""


def spec_of(type_name: str) -> EventSpec[Any]:
    """The spec of a known event type (``KeyError`` for an unknown one)."""
    return SPECS[type_name]


def build_catalogue() -> EventCatalogue:
    return EventCatalogue(DOMAIN_EVENTS)


def typed(type_name: str, data: Mapping[str, Any]) -> EventData | None:
    """A stored event's ``data`` as its typed model, for folds and read models that ``match`` on
    it; ``None`` for a type this code does not know. Stored data was validated when it was
    written, so this only rebuilds the typed values (times, nested models)."""
    model = DOMAIN_EVENTS.get(type_name)
    return None if model is None else model.model_validate(data)
