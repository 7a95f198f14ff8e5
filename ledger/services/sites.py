"""Sites are master data: every write that names a site names a registered one.

A site is named as where the event happens (the request's ``site``) and in event data: each
event type's ``EventSpec.sites`` says which (the treating, collection, origin and destination
sites, the location of a handover, receipt or scan, a user's sites). Checked by the executor
for every write path (REST, EPCIS, CLI).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..domain.base import NewEvent
from ..domain.scope import event_sites
from ..errors import InvalidEvent


def named_sites(events: Iterable[NewEvent]) -> set[str]:
    """The sites the data of ``events`` names (``ledger.domain.scope.event_sites``)."""
    named: set[str] = set()
    for event in events:
        named |= event_sites(event.type, event.typed_data)
    return named


def require_known_sites(reads: Any, sites: Iterable[str | None]) -> None:
    """Refuse (422 ``UNKNOWN_SITE``) unless every site is registered (``reads.site_registered``)."""
    unknown = sorted({s for s in sites if s and not reads.site_registered(s)})
    if unknown:
        raise InvalidEvent(f"unknown site(s) {', '.join(map(repr, unknown))}: sites are master data, "
                           "an administrator registers them first (POST /v1/sites)", code="UNKNOWN_SITE")
