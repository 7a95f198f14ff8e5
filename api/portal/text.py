"""Words and times for people: the portal's Jinja filters."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from ledger.timefmt import parse_utc

KINDS = {
    "apheresis_bag": "Apheresis bag", "final_product_bag": "Final product bag", "shipper": "Shipper",
    "sample": "Sample", "cryobag": "Cryobag", "container": "Container", "dewar": "Dewar",
}

EXCEPTION_KINDS = {
    "excursion_unassessed": "Temperature excursion to assess",
    "excursion_discarded": "Excursion assessed: discard",
    "scan_mismatch": "Scan mismatch",
    "scan_unknown": "Scan of an unknown label",
    "scan_wrong_step": "Scan with the wrong purpose",
    "scan_expired": "Scan of an expired unit",
    "spec_out_of_limits": "Result out of specification",
    "witness_missing": "Witness missing",
    "operation_refused": "Operation refused",
    "event_corrected": "Record corrected",
    "correction_pending": "Correction awaiting QA approval",
    "qc_failed": "QC failed",
    "quarantine": "Unit quarantined",
    "access_denied_burst": "Repeated failed sign-ins",
    "account_locked": "Account locked",
    "overdue_handoff": "Handover not acknowledged in time",
    "overdue_delivery": "Delivery overdue",
}

SEVERITIES = {"coi_critical": "COI-critical", "gmp": "GMP", "informational": "Informational"}

GAP_KINDS = {
    "handover_gap": "Handover acknowledged late: no confirmed holder",
    "pending_transfer_overdue": "Handover still not acknowledged",
    "late_delivery": "Delivered later than the delivery limit",
    "delivery_overdue": "Shipment still not delivered",
}


def kind_label(kind: Any) -> str:
    if not kind:
        return "Unit"
    return KINDS.get(str(kind), str(kind).replace("_", " ").capitalize())


def when(value: Any, seconds: bool = False) -> str:
    """``2026-11-01T03:52:19.000000Z`` -> ``2026-11-01 03:52 UTC`` (with ``:19`` if asked)."""
    if not value:
        return "—"
    text = str(value)
    if len(text) < 16 or text[10] != "T":
        return text
    return f"{text[:10]} {text[11:19] if seconds else text[11:16]} UTC"


def duration(seconds: Any) -> str:
    if seconds is None:
        return "—"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    shown = " ".join(p for p in parts if p)
    return shown or f"{secs} s"


def celsius(value: Any) -> str:
    if value is None:
        return "—"
    return f"{float(value):.1f} °C"


def seconds_between(end: Any, start: Any) -> float | None:
    if not end or not start:
        return None
    return (parse_utc(str(end)) - parse_utc(str(start))).total_seconds()


def install(env: Environment) -> None:
    env.filters.update(kind=kind_label, when=when, duration=duration, celsius=celsius,
                       seconds_between=seconds_between,
                       exception_kind=lambda k: EXCEPTION_KINDS.get(k, str(k).replace("_", " ")),
                       severity=lambda s: SEVERITIES.get(s, str(s)),
                       gap_kind=lambda k: GAP_KINDS.get(k, str(k).replace("_", " ")))
