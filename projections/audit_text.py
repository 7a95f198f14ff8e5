"""Human-readable "what" and "why" of each event for the Part 11 audit trail, and the detail
kept (event data without pseudonyms, logger readings reduced to a summary)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.datatypes import EventData
from ledger.domain.catalogue import SPECS, typed
from ledger.domain.events_case import OperationRefused
from ledger.domain.events_quality import TemperatureRecorded

from .common import scrub

MAX_WHAT = 2000
REASONS = ("reason", "rationale", "detail", "notes", "condition")
"""The data fields that say why (the trail's ``why``), in the order looked at."""


def what(kind: str, data: Mapping[str, Any] | EventData) -> str:
    """The event's ``EventSpec.describe`` of its typed data (stored data is converted here); the
    bare type name for a type this code does not know or data of an older or foreign schema."""
    spec = SPECS.get(kind)
    if spec is None:
        return kind
    try:
        event = data if isinstance(data, EventData) else typed(kind, data)
        text = spec.describe(event)
    except ValueError:  # pydantic's ValidationError: the type still says what
        return kind
    via = getattr(event, "via_container", None)
    if via:
        text += f" (moved with container {via})"
    return text if len(text) <= MAX_WHAT else text[:MAX_WHAT - 1] + "…"


def why(kind: str, data: Mapping[str, Any]) -> str | None:
    if kind == OperationRefused.__name__:
        return f"{data.get('code')}: {data.get('detail')}"
    for key in REASONS:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def detail(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The event data kept in the trail: no pseudonyms; readings summarised (the event itself
    keeps them, and the conditions read model serves them)."""
    kept = scrub(dict(data))
    if kind == TemperatureRecorded.__name__ and kept.get("readings"):
        readings = kept.pop("readings")
        temps = [r["celsius"] for r in readings]
        kept["readings_summary"] = {"count": len(readings), "first": readings[0]["t"],
                                    "last": readings[-1]["t"], "min_celsius": min(temps),
                                    "max_celsius": max(temps)}
    return kept
