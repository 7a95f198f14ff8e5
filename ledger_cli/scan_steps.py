"""What each scan purpose checks (``ledger scan --help``), and accepting a handover after a
``MATCH`` on receipt (``--accept``): the courier's ``CustodyAcknowledged``, posted as the
domain expects it, on the container when the unit scanned travels packed in one."""

from __future__ import annotations

from typing import Any

from ledger.domain.events_unit import CustodyAcknowledged

# One line each; keep in step with ledger.domain.labelling._wrong_step (tests check the keys).
PURPOSE_HELP = {
    "verify": "any time: only the expected COI/unit and expiry",
    "collection": "an apheresis bag or sample not yet collected into",
    "pack": "a unit not packed and not itself a container",
    "unpack": "a unit packed in a container",
    "handover": "the custodian, before offering it: not packed, none pending",
    "receipt": "receiver at pickup/arrival: a handover to take is pending",
    "dispatch": "neither in transit nor packed",
    "delivery": "a unit or shipper in transit",
    "manufacturing": "not consumed, not quarantined",
    "qc": "no step check",
    "release": "a final product or cryobag not yet released",
    "storage": "no step check",
    "infusion": "released, not yet infused, not quarantined",
    "disposal": "no step check (disposed units too)",
}


def purposes_epilog() -> str:
    lines = "\n".join(f"  {name:<14} {text}" for name, text in PURPOSE_HELP.items())
    return ("\b\nPurposes: what the step checks besides --expect-coi/--expect-unit\n"
            "and expiry (a unit that fails it answers WRONG STEP):\n" + lines +
            "\n\nA courier at pickup: --purpose receipt --accept (takes the pending handover)."
            "\n\b\nExit codes:\n  0  every scan sent and MATCH\n  2  usage\n  3  scans remain queued"
            "\n  4  scans remain queued: the credentials were refused"
            "\n  5  a scan was not MATCH (MISMATCH, REFUSED, EXPIRED, WRONG STEP, UNKNOWN)"
            "\n     or an --accept was refused; 5 wins over 3 and 4")


def acknowledgement(unit: dict[str, Any], *, occurred_at: str, location: str | None,
                    site: str | None) -> dict[str, Any]:
    """The ``POST /v1/events`` body taking custody of what was scanned (``GET /v1/units/{id}``):
    the unit itself or, if it is packed, its container (whose handover carries the contents)."""
    body: dict[str, Any] = {"type": CustodyAcknowledged.__name__, "unit_id": unit.get("container") or unit["unit_id"],
                            "occurred_at": occurred_at, "data": {"location": location} if location else {}}
    if site:
        body["site"] = site
    return body
