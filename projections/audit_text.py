"""Human-readable "what" and "why" of each event for the Part 11 audit trail, and the detail
kept (event data without pseudonyms, logger readings reduced to a summary)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .common import scrub

MAX_WHAT = 2000
Describe = Callable[[Mapping[str, Any]], str]


def _g(d: Mapping[str, Any], key: str, default: str = "?") -> Any:
    value = d.get(key)
    return default if value is None else value


WHAT: dict[str, Describe] = {
    "CaseEnrolled": lambda d: f"case {d['coi']} enrolled ({d['kind']}, {d['product']}, "
                              f"treating site {d['treating_site']})",
    "DonorRegistered": lambda d: f"donor case {d['coi']} registered ({d['product']})",
    "CaseOnHold": lambda d: "case put on hold",
    "CaseResumed": lambda d: "case resumed",
    "CaseCancelled": lambda d: "case cancelled",
    "ProductAllocated": lambda d: f"unit {d['label']} of donor {d['donor_coi']} allocated to "
                                  f"{d['patient_coi']}",
    "OperationRefused": lambda d: f"{d['step']} refused: {d['code']}",
    "EventCorrected": lambda d: f"{d['corrected_type']} {d['corrected_event_id']} corrected: "
                                + "; ".join(f"{c['field']}: {c.get('old')!r} -> {c.get('new')!r}"
                                            for c in d["changes"]),
    "UnitLabelled": lambda d: f"{d['kind']} {d['label']} labelled for {d['coi']}"
                              + (f" from {len(d['parents'])} parent(s)" if d.get("parents") else ""),
    "MaterialCollected": lambda d: f"{d['material']} collected at {d['collection_site']}"
                                   + (f", {d['volume_ml']} mL" if d.get("volume_ml") else ""),
    "UnitScanned": lambda d: f"scan for {d['purpose']}: {d['verdict']}",
    "CustodyTransferred": lambda d: f"handover offered {d['from_party']} -> {d['to_party']}",
    "CustodyAcknowledged": lambda d: f"custody taken by {d['to_party']} from {d['from_party']}",
    "CustodyDeclined": lambda d: f"handover declined by {d['to_party']}",
    "PackedInto": lambda d: f"unit {d['unit']} packed into {d['container']}",
    "UnpackedFrom": lambda d: f"unit {d['unit']} unpacked from {d['container']}",
    "ShipmentDispatched": lambda d: f"dispatched {d['from_site']} -> {d['to_site']} with "
                                    f"{d['carrier']} ({d['tracking']})",
    "ShipmentDelivered": lambda d: f"delivered to {d['to_site']} by {d['carrier']} "
                                   f"({d['tracking']})",
    "TemperatureRecorded": lambda d: f"{len(d['readings'])} readings from logger {d['logger']}",
    "ExcursionDetected": lambda d: f"excursion {d['min_celsius']}..{d['max_celsius']} °C for "
                                   f"{d['duration_s']} s (limits {_g(d, 'limit_min', '-')}.."
                                   f"{_g(d, 'limit_max', '-')})",
    "ExcursionAssessed": lambda d: f"excursion {d['excursion_id']} assessed: {d['decision']}",
    "UnitsDerived": lambda d: f"{d['process']}: {len(d['inputs'])} input(s) -> "
                              f"{len(d['outputs'])} output(s)",
    "ManufacturingStarted": lambda d: f"lot {d['lot']} started at {d['site']} ({d['process']}): "
                                      f"{len(d['inputs'])} input(s) consumed",
    "ManufacturingStepRecorded": lambda d: f"lot {d['lot']}: {d['stage']}",
    "ProductFilled": lambda d: f"lot {d['lot']} filled into {len(d['outputs'])} unit(s)",
    "QCResultRecorded": lambda d: f"QC {d['test']}: {d['result']}"
                                  + (f" ({d['value']} {d.get('uom') or ''})".rstrip()
                                     if d.get("value") is not None else ""),
    "ProductReleased": lambda d: f"{d['label']} released",
    "ProductInfused": lambda d: f"{d['label']} infused into {d['coi']}",
    "UnitQuarantined": lambda d: "unit quarantined",
    "UnitReleasedFromQuarantine": lambda d: "unit released from quarantine",
    "UnitDisposed": lambda d: "unit disposed of" + (f" ({d['method']})" if d.get("method") else ""),
    "UserCreated": lambda d: f"user {d['user']} ({d['printed_name']}) created with roles "
                             f"{', '.join(d['roles'])}",
    "UserRolesChanged": lambda d: f"user {d['user']} roles {', '.join(d['previous_roles'])} -> "
                                  f"{', '.join(d['roles'])}",
    "UserDeactivated": lambda d: f"user {d['user']} deactivated",
    "PasswordSet": lambda d: f"password set for {d['user']}",
    "AccessDenied": lambda d: f"access denied to {d['user']} ({d['reason']}, attempt "
                              f"{d['attempt']})",
    "UserAuthenticated": lambda d: f"{d['user']} signed in after {d['after_failures']} failure(s)",
    "UserLocked": lambda d: f"user {d['user']} locked after {d['attempts']} attempts",
    "UserUnlocked": lambda d: f"user {d['user']} unlocked",
    "SiteRegistered": lambda d: f"site {d['site']} ({d['name']}) registered",
    "DeviceRegistered": lambda d: f"{d['kind']} device {d['device']} registered at {d['site']}",
    "DeviceDeactivated": lambda d: f"device {d['device']} deactivated",
    "DeviceKeyRegistered": lambda d: f"key {d['key_id']} registered for device {d['device']}",
    "DeviceKeyRevoked": lambda d: f"key {d['key_id']} of device {d['device']} revoked",
    "UserSigningKeyIssued": lambda d: f"signing key {d['key_id']} issued to {d['user']}",
    "UserSigningKeyRevoked": lambda d: f"signing key {d['key_id']} of {d['user']} revoked",
}


def what(kind: str, data: Mapping[str, Any]) -> str:
    describe = WHAT.get(kind)
    if describe is None:
        return kind
    try:
        text = describe(data)
    except (KeyError, TypeError):  # an older or foreign schema: the type still says what
        return kind
    if data.get("via_container"):
        text += f" (moved with container {data['via_container']})"
    return text if len(text) <= MAX_WHAT else text[:MAX_WHAT - 1] + "…"


def why(kind: str, data: Mapping[str, Any]) -> str | None:
    if kind == "OperationRefused":
        return f"{data.get('code')}: {data.get('detail')}"
    for key in ("reason", "rationale", "detail", "notes", "condition"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def detail(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The event data kept in the trail: no pseudonyms; readings summarised (the event itself
    keeps them, and the conditions read model serves them)."""
    kept = scrub(dict(data))
    if kind == "TemperatureRecorded" and kept.get("readings"):
        readings = kept.pop("readings")
        temps = [r["celsius"] for r in readings]
        kept["readings_summary"] = {"count": len(readings), "first": readings[0]["t"],
                                    "last": readings[-1]["t"], "min_celsius": min(temps),
                                    "max_celsius": max(temps)}
    return kept
