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
from .unit import Stay, UnitState, require_unit
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


Limits = tuple[float | None, float | None]


def limits_of(unit: UnitState) -> Limits | None:
    """The unit's own temperature range, or None if its spec names none."""
    spec = unit.spec
    if spec.min_celsius is None and spec.max_celsius is None:
        return None
    return spec.min_celsius, spec.max_celsius


def narrowest(ranges: Iterable[Limits | None]) -> Limits | None:
    """The intersection of the given ranges (None if none is given); may be empty (lo > hi)."""
    given = [r for r in ranges if r is not None]
    if not given:
        return None
    lows = [r[0] for r in given if r[0] is not None]
    highs = [r[1] for r in given if r[1] is not None]
    return (max(lows) if lows else None, min(highs) if highs else None)


def is_empty(limits: Limits | None) -> bool:
    return limits is not None and limits[0] is not None and limits[1] is not None and limits[0] > limits[1]


def decide_record_temperatures(unit: UnitState, *, logger: str,
                               readings: Sequence[Mapping[str, Any] | Reading],
                               contents: Iterable[UnitState] = (), actor: str,
                               now: datetime) -> list[NewEvent]:
    """Record a logger upload on ``unit`` and the excursions it reveals (``record_temperatures``)."""
    return record_temperatures(unit, logger=logger, readings=readings, contents=contents,
                               actor=actor, now=now)[0]


def record_temperatures(unit: UnitState, *, logger: str,
                        readings: Sequence[Mapping[str, Any] | Reading],
                        contents: Iterable[UnitState] = (), actor: str,
                        now: datetime) -> tuple[list[NewEvent], dict[str, Any]]:
    """The events of a logger upload on ``unit`` and the report of what they did.

    Readings of a container apply to a unit packed in it only while it was inside (bounds
    inclusive); the report counts, per packing interval, the readings applied and those not
    applied (taken before packing or after unpacking). A unit is checked against its own range
    or, if it has none, the container's (its own, else the narrowest of the other units inside
    with it). A container without a range of its own inherits the narrowest range of what it
    carried during the readings (reported); its excursions are opened on the units inside,
    where they block release, not a second time on the container.

    ``contents``: the states of the units packed in ``unit`` at any time the readings cover
    (the container's ``stays``); a missing one is a programming error.
    """
    require_aware(now)
    require_unit(unit)
    if unit.disposed:
        raise refusal("UNIT_DISPOSED", f"unit {unit.label} has been disposed of")
    record = validate(TemperatureRecorded, logger=logger, readings=list(readings))
    points = [(r.t, r.celsius) for r in record.readings]
    if points[-1][0] > now + CLOCK_SKEW:
        raise refusal("READING_IN_FUTURE", f"reading at {points[-1][0]} is after {now}")
    by_id = {u.stream: u for u in contents}
    first, last = points[0][0], points[-1][0]
    during = [s for s in unit.stays if s.since <= last and (s.until is None or s.until >= first)]
    for stay in during:
        if stay.other not in by_id:
            raise ValueError(f"the state of unit {stay.other} (packed in {unit.stream}) is needed")
    own = limits_of(unit)
    carried = narrowest(limits_of(by_id[s.other]) for s in during)
    logged = _Applied(unit, unit, logger, points, *((own, "own") if own else (carried, "contents")))
    if own is None:
        logged.checked = []  # an inherited range is checked on the units carried, not twice
    reports = [logged]
    for stay in (s for s in unit.stays if s.until is None or s.until >= first):
        inner = by_id.get(stay.other) or UnitState(stream=stay.other)
        inner_own = limits_of(inner)
        others = narrowest([own, *(limits_of(by_id[s.other]) for s in during
                                   if s.other != stay.other and _overlaps(s, stay))])
        reports.append(_Applied(
            inner, unit, logger, [(t, c) for t, c in points if _inside(stay, t)],
            *((inner_own, "own") if inner_own else (others, "container")), stay=stay,
            before=sum(1 for t, _ in points if t < stay.since),
            after=sum(1 for t, _ in points if stay.until is not None and t > stay.until)))
    events = [event_of(unit.stream, record)]  # type: ignore[arg-type]
    for report in reports:
        events += report.excursions()
    return events, {
        "logger": logger, "readings": len(points), "first": format_utc(first),
        "last": format_utc(last),
        "excursions_detected": sum(r.detected for r in reports),
        "excursions_opened": sum(r.opened for r in reports),
        "units": [r.report() for r in reports],
    }


def _inside(stay: Stay, t: datetime) -> bool:
    return t >= stay.since and (stay.until is None or t <= stay.until)


def _overlaps(a: Stay, b: Stay) -> bool:
    return (a.until is None or b.since <= a.until) and (b.until is None or a.since <= b.until)


@dataclass
class _Applied:
    """The readings of one upload as they apply to one unit (the logged one or a content)."""

    target: UnitState
    source: UnitState
    logger: str
    points: list[tuple[datetime, float]]
    limits: Limits | None
    limits_source: str
    stay: Stay | None = None
    before: int = 0
    after: int = 0
    checked: list[tuple[datetime, float]] | None = None
    detected: int = 0
    opened: int = 0

    def __post_init__(self) -> None:
        if self.limits is None or is_empty(self.limits):
            self.limits, self.checked = None, []
        elif self.checked is None:
            self.checked = self.points

    def excursions(self) -> list[NewEvent]:
        if not self.checked or self.limits is None:
            return []
        events, (low, high) = [], self.limits
        for found in detect_excursions(self.checked, min_celsius=low, max_celsius=high):
            self.detected += 1
            xid = excursion_id(self.target.stream, self.source.stream, self.logger,  # type: ignore[arg-type]
                               found.start)
            if self.target.excursion(xid) is not None:
                continue  # the same file uploaded again
            self.opened += 1
            events.append(new_event(
                self.target.stream, ExcursionDetected, excursion_id=xid,  # type: ignore[arg-type]
                source=self.source.stream, logger=self.logger, start=found.start, end=found.end,
                duration_s=math.ceil(found.duration.total_seconds()),
                min_celsius=found.min_celsius, max_celsius=found.max_celsius,
                limit_min=low, limit_max=high, readings=found.readings, ongoing=found.ongoing))
        return events

    def report(self) -> dict[str, Any]:
        stay, limits = self.stay, self.limits
        return {
            "unit_id": str(self.target.stream), "label": self.target.label,
            "via_container": str(self.source.stream) if stay else None,
            "packed_at": format_utc(stay.since) if stay else None,
            "unpacked_at": format_utc(stay.until) if stay and stay.until else None,
            "readings_applied": len(self.points),
            "not_applied": {"before_packing": self.before, "after_unpacking": self.after},
            "limits": None if limits is None else {
                "min_celsius": limits[0], "max_celsius": limits[1], "source": self.limits_source},
            "readings_checked": len(self.checked or []),
            "excursions_detected": self.detected, "excursions_opened": self.opened,
        }


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
    require_esign(ExcursionAssessed.__name__, esign, signer, actor=actor)
    return [new_event(unit.stream, ExcursionAssessed,  # type: ignore[arg-type]
                      excursion_id=excursion, decision=decision, rationale=rationale)]
