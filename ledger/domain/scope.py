"""Which sites an event involves, the one definition site scope is judged against.

An event involves the site where it happened (its envelope's ``site``) and every site its data
names (its type's ``EventSpec.sites``: treating, collection, origin and destination sites, the
location of a handover or scan). A case or a unit involves the sites of all its events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..datatypes import EventData
from .catalogue import SPECS, typed
from .spec import no_sites


def event_sites(event_type: str, data: EventData | Mapping[str, Any], site: str | None = None) -> frozenset[str]:
    """The sites one event involves: ``site`` (where it happened) and those its data names."""
    involved = {site} if site else set()
    spec = SPECS.get(event_type)
    if spec is not None and spec.sites is not no_sites:  # names no site: no need to convert
        model = data if isinstance(data, EventData) else typed(event_type, data)
        if model is not None:
            involved.update(s for s in spec.sites(model) if s)
    return frozenset(involved)


def envelope_sites(envelope: Mapping[str, Any]) -> frozenset[str]:
    """The sites a stored event (its envelope) involves."""
    return event_sites(envelope["type"], envelope["data"], envelope.get("site"))


def stream_sites(envelopes: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The sites a stream (a case, a unit) involves: those of all its events."""
    involved: set[str] = set()
    for envelope in envelopes:
        involved |= envelope_sites(envelope)
    return frozenset(involved)
