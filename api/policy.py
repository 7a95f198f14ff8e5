"""Who may do what (21 CFR 11.10(d), (g)): one table for every write and every read.

A route names its permission; the permission names the roles allowed. An auditor reads
everything and writes nothing; a device writes only what a device observes.
"""

from __future__ import annotations

ROLES = ("admin", "courier", "operator", "qa", "clinician", "auditor", "integrator", "device")

FIELD = ("courier", "operator", "clinician", "integrator", "device")
READERS = ("admin", "courier", "operator", "qa", "clinician", "auditor", "integrator")

# Writes, by event type (POST /v1/events and the dedicated routes that append them).
EVENT_ROLES: dict[str, tuple[str, ...]] = {
    "CaseEnrolled": ("operator", "clinician", "integrator"),
    "DonorRegistered": ("operator", "integrator"),
    "CaseOnHold": ("qa", "clinician", "operator"),
    "CaseResumed": ("qa", "clinician", "operator"),
    "CaseCancelled": ("qa", "clinician"),
    "ProductAllocated": ("operator", "qa", "integrator"),
    "UnitLabelled": ("operator", "integrator"),
    "MaterialCollected": ("operator", "clinician"),
    "UnitScanned": FIELD + ("qa",),
    "CustodyTransferred": FIELD,
    "CustodyAcknowledged": FIELD,
    "CustodyDeclined": FIELD,
    "PackedInto": FIELD,
    "UnpackedFrom": FIELD,
    "ShipmentDispatched": ("courier", "operator", "integrator", "device"),
    "ShipmentDelivered": ("courier", "operator", "integrator", "device"),
    "TemperatureRecorded": ("courier", "operator", "integrator", "device"),
    "ExcursionAssessed": ("qa",),
    "UnitsDerived": ("operator", "integrator"),
    "ManufacturingStarted": ("operator", "integrator"),
    "ManufacturingStepRecorded": ("operator", "integrator"),
    "ProductFilled": ("operator", "integrator"),
    "QCResultRecorded": ("operator", "qa", "integrator"),
    "ProductReleased": ("qa",),
    "ProductInfused": ("clinician",),
    "UnitQuarantined": ("qa", "operator"),
    "UnitReleasedFromQuarantine": ("qa",),
    "UnitDisposed": ("qa", "operator"),
    "EventCorrected": ("qa", "operator", "clinician", "courier", "integrator"),
}

PERMISSIONS: dict[str, tuple[str, ...]] = {
    "read": READERS,
    "read_audit": ("admin", "qa", "auditor", "clinician"),
    "scan": FIELD + ("qa",),
    "admin": ("admin",),
    "verify": READERS,
}


def event_roles_markdown() -> str:
    """The table of docs/API.md "Who may post which event" (a test keeps the two equal)."""
    lines = ["| event type | roles that may post it |", "|---|---|"]
    lines += [f"| `{event}` | {', '.join(roles)} |" for event, roles in EVENT_ROLES.items()]
    return "\n".join(lines)


def allowed(roles: tuple[str, ...] | list[str], permitted: tuple[str, ...]) -> bool:
    return any(role in permitted for role in roles)
