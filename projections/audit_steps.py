"""The audit trail as people read it: one row per step, not one per stream the step wrote.

Some steps write the same event on several streams, so that each unit's own history is
complete: packing and unpacking (``PackedInto`` / ``UnpackedFrom`` on the unit's and the
container's stream) and everything done to a container with contents (handover, receipt,
dispatch, delivery: once on the container, once per content with ``via_container``) and a step
whose data names every stream it touches (``ManufacturingStarted`` on the lot and each input). The audit
trail read model keeps one row per event (Part 11: every record); the portal and the dossier
PDF show such a group once, on the first row, with the others listed as its ``mirrors``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

PAIRED = ("PackedInto", "UnpackedFrom")
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def readable(text: str | None, labels: Mapping[str, str]) -> str | None:
    """Unit ids in a sentence replaced by the labels printed on the units."""
    return UUID.sub(lambda m: labels.get(m.group(0), m.group(0)), text) if text else text


def _step_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return row["type"], row["actor"], row.get("on_behalf"), row["recorded_at"], row.get("occurred_at")


def _mirror_of(row: Mapping[str, Any], primary: Mapping[str, Any]) -> bool:
    """Whether ``row`` repeats ``primary`` (the same step, recorded on another stream)."""
    if _step_key(row) != _step_key(primary) or row["stream"] == primary["stream"]:
        return False
    data, first = row.get("detail") or {}, primary.get("detail") or {}
    if data == first:
        return True
    if row["type"] in PAIRED:
        return (data.get("unit"), data.get("container")) == (first.get("unit"), first.get("container"))
    return data.get("via_container") == primary["stream"] and not first.get("via_container")


def one_row_per_step(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` (audit trail rows in log order) with each mirrored event folded into the row of
    its step: that row gets ``mirrors`` (the folded rows) and ``contents`` (the unit ids that
    moved inside a container). Every other row is kept as it is, with empty lists."""
    out: list[dict[str, Any]] = []
    open_steps: list[dict[str, Any]] = []  # rows of the step being read (same type/actor/time)
    for row in rows:
        if open_steps and _step_key(open_steps[0]) != _step_key(row):
            open_steps = []
        primary = next((p for p in open_steps if _mirror_of(row, p)), None)
        if primary is None:
            item = {**row, "mirrors": [], "contents": []}
            out.append(item)
            open_steps.append(item)
            continue
        primary["mirrors"].append(dict(row))
        if (row.get("detail") or {}).get("via_container"):
            primary["contents"].append(row["stream"])
    return out
