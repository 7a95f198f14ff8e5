"""Which sites an event involves, the one definition site scope is judged against.

An event involves the site where it happened (its envelope's ``site``) and every site its data
names (its type's ``EventSpec.sites``: treating, collection, origin and destination sites, the
location of a handover or scan). A case or a unit involves the sites of all its events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from ..datatypes import EventData
from .catalogue import SPECS, typed
from .events_case import CaseEnrolled, DonorRegistered
from .events_registry import SiteRegistered
from .spec import no_sites
from .unit import UnitState


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
    """The sites a stored event (its envelope) involves; a site's registration also involves the site
    it registers (so the site's own stream, its planning profile for one, is within that site's scope;
    the registration itself names no site that must already exist)."""
    involved = event_sites(envelope["type"], envelope["data"], envelope.get("site"))
    if envelope["type"] == SiteRegistered.__name__:
        return involved | {envelope["data"]["site"]}
    return involved


def stream_sites(envelopes: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The sites a stream (a case, a unit) involves: those of all its events."""
    involved: set[str] = set()
    for envelope in envelopes:
        involved |= envelope_sites(envelope)
    return frozenset(involved)


CASE_OPENERS = frozenset({CaseEnrolled.__name__, DonorRegistered.__name__})
"""The events that open a case stream."""


def owner_case(stream: Any, envelopes: Sequence[Mapping[str, Any]]) -> UUID | None:
    """The case a stream belongs to: itself for a case stream; for a unit or a lot, the case its
    first event names (``UnitLabelled.case``, ``ManufacturingStarted.case``); else None (a
    registry stream belongs to no case)."""
    if not envelopes:
        return None
    first = envelopes[0]
    if first["type"] in CASE_OPENERS:
        return UUID(str(stream))
    case = first["data"].get("case") if isinstance(first["data"], Mapping) else None
    return UUID(str(case)) if case else None


def holds_custody(unit: UnitState, party: str) -> bool:
    """Whether ``party`` is the unit's custodian or the recipient of its pending handover
    (custody grants scope: a courier's hub is not a site the unit's events name)."""
    return unit.custodian == party or (unit.pending is not None and unit.pending.to_party == party)
