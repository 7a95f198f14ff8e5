"""Which events a subscription gets: its owner may read them, and its filters let them through.

Pure functions over the subscription's terms and what the log follower knows of an event (its
type, its case's COI, the sites its case involves or, for an event of no case, the sites the
event itself involves, and its data's ``severity`` where it has one).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from ..domain.catalogue import SPECS
from ..domain.events_access import TokenIssued, TokenRevoked
from ..domain.events_alert import UserContactSet
from ..domain.events_registry import IDENTITY
from ..domain.events_webhooks import SEVERITY_ORDER, WEBHOOK_EVENTS

NEVER_SENT = frozenset(WEBHOOK_EVENTS)
"""Subscriptions' own events are never sent (they are the owner's configuration, not news)."""

STAFF_RECORDS = frozenset({*(kind for kind, spec in SPECS.items() if spec.epcis is IDENTITY),
                           UserContactSet.__name__, TokenIssued.__name__, TokenRevoked.__name__})
"""Who the staff and devices are, their accounts, addresses and sign-ins: records of no case, which
the read rule shows only to those who read every case; so an owner bound to sites gets none."""


@dataclass(frozen=True)
class Terms:
    event_types: frozenset[str]
    sites: frozenset[str] = frozenset()
    cois: frozenset[str] = frozenset()
    min_severity: str | None = None
    owner_sites: frozenset[str] = frozenset()
    owner_reads_all: bool = False

    def may_read(self, coi: str | None, sites: Collection[str]) -> bool:
        """The owner's read scope: everything, or a case (or an event of no case) that involves
        one of the owner's sites."""
        if self.owner_reads_all:
            return True
        return bool(self.owner_sites & set(sites))

    def wants(self, event_type: str, coi: str | None, sites: Collection[str], data: Mapping[str, Any]) -> bool:
        if event_type in NEVER_SENT or event_type not in self.event_types:
            return False
        if event_type in STAFF_RECORDS and not self.owner_reads_all:
            return False
        if not self.may_read(coi, sites):
            return False
        if self.sites and not self.sites & set(sites):
            return False
        if self.cois and coi not in self.cois:
            return False
        return severity_passes(data, self.min_severity)


def severity_passes(data: Mapping[str, Any], minimum: str | None) -> bool:
    """An event whose data carries ``severity`` passes if it is at least ``minimum``; an event
    without one is not judged by severity."""
    if minimum is None:
        return True
    severity = data.get("severity") if isinstance(data, Mapping) else None
    if not isinstance(severity, str):
        return True
    return SEVERITY_ORDER.get(severity, len(SEVERITY_ORDER)) >= SEVERITY_ORDER[minimum]
