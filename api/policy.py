"""Who may do what (21 CFR 11.10(d), (g)): one table for every write and every read.

A route names its permission; the permission names the roles allowed. An auditor reads
everything and writes nothing; a device writes only what a device observes.
"""

from __future__ import annotations

from ledger.domain.catalogue import SPECS
from ledger.domain.events_registry import ROLES
from ledger.domain.events_unit import FIELD

READERS = tuple(r for r in ROLES if r != "device")

# Writes, by event type (POST /v1/events and the dedicated routes that append them): each
# event type's EventSpec.roles, for the types the API records.
EVENT_ROLES: dict[str, tuple[str, ...]] = {t: s.roles for t, s in SPECS.items() if s.roles}

PERMISSIONS: dict[str, tuple[str, ...]] = {
    "read": READERS,
    "read_audit": ("admin", "qa", "auditor", "clinician"),
    "scan": FIELD + ("qa",),
    "admin": ("admin",),
    "verify": READERS,
    "change_own_password": READERS,
    # revoke one's own e-signature key and issue a new one (an admin revokes anyone's: 11.300(d))
    "manage_own_signing_key": READERS,
    "acknowledge_signature_policy": READERS,
    "record_training": ("admin", "qa"),  # 11.10(i); identity verification is the administrator's
    # record an event that occurred more than LEDGER_BACKFILL_HOURS ago (with a reason): those who
    # enter late records (paper batch records, an MES or LIMS catching up); a courier's offline
    # queue stays within the tolerance, and a late bedside or custody record is QA's to enter
    "backfill": ("operator", "qa", "integrator"),
    # webhook subscriptions (docs/WEBHOOKS.md): an admin manages any, an integrator its own
    "manage_subscriptions": ("admin", "integrator"),
}

GLOBAL_READERS = ("admin", "qa", "auditor")
"""Roles that read every case when the account is bound to no site (``api.authority.read_scope``)."""
HOLDER_READERS = ("courier",)
"""Roles that also read the units they hold or held custody of, wherever those are."""
GLOBAL_ORDER_READERS = (*GLOBAL_READERS, "program_manager")
"""Roles that read every therapy order when the account is bound to no site (``api.routes.orders``)."""


def event_roles_markdown() -> str:
    """The table of docs/API.md "Who may post which event" (a test keeps the two equal)."""
    lines = ["| event type | roles that may post it | e-signature |", "|---|---|---|"]
    lines += [f"| `{event}` | {', '.join(roles)} | {SPECS[event].signing.describe()} |"
              for event, roles in EVENT_ROLES.items()]
    return "\n".join(lines)


def allowed(roles: tuple[str, ...] | list[str], permitted: tuple[str, ...]) -> bool:
    return any(role in permitted for role in roles)
