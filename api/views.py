"""Plain JSON views of folded domain states (the current state, straight from the streams)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.domain.case import CaseState
from ledger.domain.unit import UnitState
from ledger.timefmt import format_utc


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def case_view(case: CaseState, row: Mapping[str, Any]) -> dict[str, Any]:
    """A case without its patient pseudonym: nobody needs it to read a case.

    ``status``, ``milestone`` and ``units`` come from the ``cases`` read model (``row``), the one
    definition every view shows; until it has the case, the status is ``enrolled`` (or the
    stream's ``on_hold`` / ``cancelled``)."""
    view = jsonable(case)
    view.pop("patient_ref", None)
    view["case_id"] = view.pop("stream")
    fallback = "enrolled" if case.status == "active" else case.status
    view["status"] = row.get("status") or fallback
    view["milestone"] = row.get("milestone") or "enrolled"
    view["units"] = row.get("units") or 0
    return view


def unit_view(unit: UnitState) -> dict[str, Any]:
    view = jsonable(unit)
    view["unit_id"] = view.pop("stream")
    view["identifiers"] = dict(unit.identifiers)
    return view
