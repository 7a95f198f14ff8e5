"""Site scope of a write: a site-bound principal appends only to streams that involve its sites.

A principal with no sites (an administrator, a global QA or auditor, the CLI's ``system``) is
unrestricted: its ``Context.scope`` is empty. Any other may append an event to a stream only if

* the stream exists and involves one of its sites (``ledger.domain.scope``: where its events
  happened and the sites their data names), or
* the stream is a unit whose custodian, or the recipient of whose pending handover, it is, or
* the stream belongs to a case (a unit, a lot, the case itself) and the case involves one of
  its sites: the case's own events, the units allocated to it, and the units labelled for it
  (collection, treating and manufacturing sites, where its units are or are going), or
* the stream is new: a unit or lot of a case in scope; anything else (an enrolment, a donor
  registration, a registry stream) only if every site its events name is one of its sites.

The ledger's own records (``ledger.domain.events_ledger``: settings, keys, sign-ins, QA's review
of the whole audit trail) span every site: a site-bound principal never records one.

The events being decided never widen the scope of their own stream (they name the writer's own
site). The units labelled for a case are found through ``CaseUnits`` (the case stream does not
name them); it is consulted only when the direct check fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from ..domain.base import NewEvent
from ..domain.events_ledger import LEDGER_EVENTS
from ..domain.events_unit import UnitLabelled
from ..domain.scope import event_sites, holds_custody, owner_case, stream_sites
from ..errors import Forbidden

CaseUnits = Callable[[str], Iterable[UUID]]
"""The unit streams labelled for a case (by COI). Backed by an index that may lag behind the
ledger: it only ever widens the scope, so a lag refuses a write, never grants one."""


def no_units(coi: str) -> Iterable[UUID]:
    return ()


def require_in_scope(reads: Any, events: Iterable[NewEvent], *, actor: str, site: str | None,
                     scope: tuple[str, ...], case_units: CaseUnits = no_units) -> None:
    """Refuse (403 ``SITE_FORBIDDEN``) unless every stream ``events`` are appended to is within
    ``scope`` for ``actor`` (see the module). ``reads`` must not hold ``events`` yet."""
    if not scope:
        return
    by_stream: dict[UUID, list[NewEvent]] = {}
    for event in events:
        by_stream.setdefault(event.stream, []).append(event)
    judge = _Scope(reads, actor, frozenset(scope), case_units)
    for stream, new in by_stream.items():
        if any(event.type in LEDGER_EVENTS for event in new):
            raise Forbidden(f"{actor} may not record {new[0].type}: it concerns every site, and {actor} is bound "
                            f"to {', '.join(sorted(scope))}", code="SITE_FORBIDDEN")
        if not judge.may_append(stream, new, site):
            raise Forbidden(f"{actor} may not record {new[0].type} on stream {stream}: it involves none of "
                            f"the site(s) {', '.join(sorted(scope))}", code="SITE_FORBIDDEN")


def require_read_in_scope(reads: Any, *, actor: str, scope: tuple[str, ...],
                          case_units: CaseUnits = no_units) -> None:
    """For a refused decision: refuse with 403 ``SITE_FORBIDDEN`` rather than the domain's answer
    when the decision read cases, units or lots and none is within scope, so that another site's
    staff learn nothing of its state (not found, expired, not the custodian ...)."""
    if not scope:
        return
    judge = _Scope(reads, actor, frozenset(scope), case_units)
    read = [(stream, envelopes) for stream in list(reads.versions)
            if (envelopes := reads.envelopes(stream)) and owner_case(stream, envelopes) is not None]
    if read and not any(judge.may_act_on(stream, envelopes) for stream, envelopes in read):
        raise Forbidden(f"{actor} may not act on a case or unit that involves none of the site(s) "
                        f"{', '.join(sorted(scope))}", code="SITE_FORBIDDEN")


class _Scope:
    def __init__(self, reads: Any, actor: str, sites: frozenset[str], case_units: CaseUnits) -> None:
        self.reads, self.actor, self.sites, self.case_units = reads, actor, sites, case_units
        self._cases: dict[UUID, bool] = {}

    def may_append(self, stream: UUID, new: list[NewEvent], site: str | None) -> bool:
        envelopes = self.reads.envelopes(stream)
        if not envelopes:
            case = owner_case(stream, [{"type": e.type, "data": e.data} for e in new[:1]])
            if case is not None and case != stream:  # a new unit or lot of a case
                return self.case_in_scope(case)
            named = frozenset().union(*(event_sites(e.type, e.typed_data, site) for e in new))
            return named <= self.sites
        return self.may_act_on(stream, envelopes)

    def may_act_on(self, stream: UUID, envelopes: list[dict[str, Any]]) -> bool:
        """Whether an existing stream is within scope."""
        if stream_sites(envelopes) & self.sites:
            return True
        case = owner_case(stream, envelopes)
        if case is None:
            return False
        if envelopes[0]["type"] == UnitLabelled.__name__ and holds_custody(self.reads.unit(stream), self.actor):
            return True
        return self.case_in_scope(case)

    def case_in_scope(self, case: UUID) -> bool:
        if case not in self._cases:
            self._cases[case] = self._case_in_scope(case)
        return self._cases[case]

    def _case_in_scope(self, case: UUID) -> bool:
        if stream_sites(self.reads.envelopes(case)) & self.sites:
            return True
        state = self.reads.case(case)
        if state.coi is None:
            return False
        units = dict.fromkeys([*state.allocated_units, *self.case_units(state.coi)])
        return any(stream_sites(self.reads.envelopes(unit)) & self.sites for unit in units)
