"""Chain of condition: temperature uploads, excursion detection and QA assessment.

Readings of a container apply to every unit packed in it during them: an upload on a
container checks each such unit's own spec over the readings taken while it was inside,
and appends ``ExcursionDetected`` on that unit's stream. Release is then refused while
any excursion on the unit or its ancestors is unassessed (``EXCURSION_UNASSESSED``).
Each upload is checked on its own: an excursion spanning two uploads is reported twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from ..streams import LEDGER_NAMESPACE
from ..timefmt import format_utc
from .base import (
    NewEvent,
    event_of,
    new_event,
    refusal,
    require_aware,
    require_reason,
    validate,
)
from .esign import Manifestation, require_esign
from .events_quality import ExcursionAssessed, ExcursionDetected, Reading, TemperatureRecorded
from .unit import UnitState, require_unit
from .users import UserState

CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Found:
    """One excursion found in a run of readings."""

    start: datetime
    end: datetime
    min_celsius: float
    max_celsius: float
    readings: int
    ongoing: bool

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def detect_excursions(readings: Iterable[tuple[datetime, float]], *,
                      min_celsius: float | None, max_celsius: float | None) -> list[Found]:
    """Maximal runs of readings outside ``[min_celsius, max_celsius]`` (bounds inclusive).

    ``readings`` must be in time order. ``start`` is the first reading out of range, ``end``
    the first reading back in range (the conservative end), or the last reading if the run
    lasts to the end of the data (``ongoing``).
    """
    found: list[Found] = []
    run: list[tuple[datetime, float]] = []

    def close(end: datetime, ongoing: bool) -> None:
        temps = [c for _, c in run]
        found.append(Found(run[0][0], end, min(temps), max(temps), len(run), ongoing))
        run.clear()

    for t, c in readings:
        out = (min_celsius is not None and c < min_celsius) or (
            max_celsius is not None and c > max_celsius)
        if out:
            run.append((t, c))
        elif run:
            close(t, False)
    if run:
        close(run[-1][0], True)
    return found


def excursion_id(unit: UUID, source: UUID, logger: str, start: datetime) -> UUID:
    """Deterministic, so a re-uploaded logger file does not report the same excursion twice."""
    return uuid5(LEDGER_NAMESPACE, f"excursion:{unit}:{source}:{logger}:{format_utc(start)}")


def decide_record_temperatures(unit: UnitState, *, logger: str,
                               readings: Sequence[Mapping[str, Any] | Reading],
                               contents: Iterable[UnitState] = (), actor: str,
                               now: datetime) -> list[NewEvent]:
    """Record a logger upload on ``unit`` and the excursions it reveals.

    ``contents``: the states of every unit that was packed in ``unit`` at any time the
    readings cover (the container's ``stays``); a missing one is a programming error.
    """
    require_aware(now)
    require_unit(unit)
    if unit.disposed:
        raise refusal("UNIT_DISPOSED", f"unit {unit.label} has been disposed of")
    record = validate(TemperatureRecorded, logger=logger, readings=list(readings))
    points = [(r.t, r.celsius) for r in record.readings]
    if points[-1][0] > now + CLOCK_SKEW:
        raise refusal("READING_IN_FUTURE", f"reading at {points[-1][0]} is after {now}")
    events = [event_of(unit.stream, record)]  # type: ignore[arg-type]
    events += _excursions(unit, unit, logger, points)
    by_id = {u.stream: u for u in contents}
    first, last = points[0][0], points[-1][0]
    for stay in unit.stays:
        if stay.since > last or (stay.until is not None and stay.until < first):
            continue
        inner = by_id.get(stay.other)
        if inner is None:
            raise ValueError(f"the state of unit {stay.other} (packed in {unit.stream}) is needed")
        inside = [(t, c) for t, c in points
                  if t >= stay.since and (stay.until is None or t <= stay.until)]
        events += _excursions(inner, unit, logger, inside)
    return events


def _excursions(target: UnitState, source: UnitState, logger: str,
                points: list[tuple[datetime, float]]) -> list[NewEvent]:
    spec = target.spec
    if not points or (spec.min_celsius is None and spec.max_celsius is None):
        return []
    events = []
    for found in detect_excursions(points, min_celsius=spec.min_celsius,
                                   max_celsius=spec.max_celsius):
        xid = excursion_id(target.stream, source.stream, logger, found.start)  # type: ignore[arg-type]
        if target.excursion(xid) is not None:
            continue
        events.append(new_event(
            target.stream, ExcursionDetected, excursion_id=xid,  # type: ignore[arg-type]
            source=source.stream, logger=logger, start=found.start, end=found.end,
            duration_s=math.ceil(found.duration.total_seconds()),
            min_celsius=found.min_celsius, max_celsius=found.max_celsius,
            limit_min=spec.min_celsius, limit_max=spec.max_celsius,
            readings=found.readings, ongoing=found.ongoing))
    return events


def decide_assess_excursion(unit: UnitState, excursion: UUID, decision: str, rationale: str, *,
                            esign: Manifestation | None, signer: UserState | None,
                            actor: str, now: datetime) -> list[NewEvent]:
    """QA decides ``use`` or ``discard``; the event carries a Part 11 ``assessed`` e-signature
    (attached by the service as the envelope's ``esign``)."""
    require_aware(now)
    require_unit(unit)
    found = unit.excursion(excursion)
    if found is None:
        raise refusal("UNKNOWN_EXCURSION", f"no excursion {excursion} on {unit.label}")
    if found.decision is not None:
        raise refusal("ALREADY_ASSESSED", f"excursion {excursion} was assessed {found.decision}")
    require_reason(rationale, "an assessment")
    require_esign("ExcursionAssessed", esign, signer, actor=actor)
    return [new_event(unit.stream, ExcursionAssessed,  # type: ignore[arg-type]
                      excursion_id=excursion, decision=decision, rationale=rationale)]
