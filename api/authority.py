"""Who may do what, where: the one check every route makes (21 CFR 11.10(d), (g)).

``authorise(principal, action, site)`` lets a principal do ``action`` (a permission of
``api.policy.PERMISSIONS``, ``query_epcis``, or an event type to record) at ``site``: its roles
must name the action, and a principal bound to sites may act only at those. Routes reach it
through ``api.deps.authorised`` (a FastAPI dependency), through ``api.deps.context_for`` (the
site of a write), or, when the action is known only from the body, by calling it directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.errors import Forbidden
from projections.scope_query import EVERYTHING, ReadScope

from .epcis.access import QUERY_ROLES
from .policy import EVENT_ROLES, GLOBAL_READERS, HOLDER_READERS, PERMISSIONS, allowed

ACTIONS: dict[str, tuple[str, ...]] = {**PERMISSIONS, "query_epcis": QUERY_ROLES}
"""Actions other than recording an event (those are ``EVENT_ROLES``, by type)."""


@dataclass(frozen=True)
class Principal:
    id: str
    kind: str  # user | device
    roles: tuple[str, ...]
    sites: tuple[str, ...]
    printed_name: str | None = None
    unqualified: tuple[str, ...] = ()
    """Roles held without the current training they require (``ledger.domain.qualification``):
    not usable to record events until it is recorded."""

    def may(self, permitted: tuple[str, ...]) -> bool:
        return allowed(self.roles, permitted)


def _roles_for(action: str) -> tuple[str, ...]:
    roles = ACTIONS.get(action)
    if roles is None:
        roles = EVENT_ROLES.get(action)
    if roles is None:
        raise KeyError(f"no such action: {action}")
    return roles


def permits(principal: Principal, action: str) -> bool:
    """Whether ``principal``'s roles may do ``action`` (anywhere); recording an event only by a
    role whose required training is current."""
    roles = _roles_for(action)
    if action in EVENT_ROLES:
        return allowed([r for r in principal.roles if r not in principal.unqualified], roles)
    return principal.may(roles)


def authorise(principal: Principal, action: str | None, site: str | None = None) -> Principal:
    """``principal`` if it may do ``action`` (``None``: no role needed) at ``site`` (``None``: no
    site named); else ``Forbidden`` (403)."""
    if action is not None and not permits(principal, action):
        if action in EVENT_ROLES and principal.may(_roles_for(action)):
            raise Forbidden(f"{principal.id} needs current training for role(s) {', '.join(principal.unqualified)} "
                            f"to record {action}", code="TRAINING_REQUIRED")
        verb = action.replace("_", " ") if action in ACTIONS else f"record {action}"
        raise Forbidden(f"role(s) {', '.join(principal.roles)} may not {verb}")
    if site is not None and principal.sites and site not in principal.sites:
        raise Forbidden(f"{principal.id} may not act at site {site!r}", code="SITE_FORBIDDEN")
    return principal


def authorise_account(principal: Principal, account: str, own_action: str | None, *,
                      device: bool = False) -> Principal:
    """``principal`` if it may act on the credentials (keys, tokens) of ``account`` (a device's when
    ``device``, else a person's or an integrator's): its own with ``own_action`` (``None``: no role
    needed), anyone else's only as an admin; else ``Forbidden`` (403)."""
    if principal.id == account and (principal.kind == "device") == device:
        return authorise(principal, own_action)
    return authorise(principal, "admin")


def reads_every_case(roles: Sequence[str], sites: Sequence[str]) -> bool:
    """Whether someone with these roles, bound to these sites, reads every case (``read_scope``)."""
    return not sites and allowed(tuple(roles), GLOBAL_READERS)


def read_scope(principal: Principal) -> ReadScope:
    """What ``principal`` may read of cases and units (the one read rule, applied by every read).

    A principal bound to sites reads the cases that involve one of them
    (``ledger.domain.scope``) and their units. One bound to no site reads every case if a role
    of ``GLOBAL_READERS`` (QA, auditor, admin) is among its roles, and otherwise no case. A
    principal with a role of ``HOLDER_READERS`` (a courier) also reads the units it holds or
    held custody of (not their case).
    """
    holder = principal.id if principal.may(HOLDER_READERS) else None
    if principal.sites:
        return ReadScope(frozenset(principal.sites), holder)
    if reads_every_case(principal.roles, principal.sites):
        return EVERYTHING
    return ReadScope(frozenset(), holder)
