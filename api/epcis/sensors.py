"""EPCIS sensor data -> temperature readings the ledger can record.

Only ``Temperature`` reports count (``Temperature``, ``gs1:Temperature`` or the GS1 web URI),
in ``CEL`` (``FAH`` and ``KEL`` are converted); values are rounded to 2 decimals, as the
ledger keeps them. A report with ``value`` is one reading at its time (report ``time``, else
the element's ``sensorMetadata.time``, else the event time). An interval summary
(``minValue``/``maxValue`` over ``startTime``..``endTime``) does not say when its extremes
happened: the ledger records the minimum at the start and the maximum at the end, so that an
out-of-range extreme always reaches the domain's excursion check (conservative); a lone
``meanValue`` is one reading at the end. An ``ALARM_CONDITION`` without a value cannot be
checked against a unit's spec and is reported as not applied.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ledger.timefmt import format_utc

from . import cbv, ids

DEFAULT_LOGGER = "epcis-sensor"
_FRACTION = re.compile(r"(\.\d{6})\d+")


def utc(text: Any) -> datetime | None:
    """An RFC 3339 time as an aware UTC datetime (None if it is not one)."""
    if not cbv.is_rfc3339(text):
        return None
    value = _FRACTION.sub(r"\1", text.upper().replace("Z", "+00:00"))
    return datetime.fromisoformat(value).astimezone(UTC)


def utc_text(text: Any) -> str | None:
    moment = utc(text)
    return format_utc(moment) if moment else None


def _celsius(value: Any, uom: Any) -> float | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    converted = {"CEL": value, "FAH": (value - 32) * 5 / 9, "KEL": value - 273.15}.get(uom)
    return None if converted is None else round(float(converted), 2)


def _is_temperature(report: Mapping[str, Any]) -> bool:
    kind = report.get("type")
    return isinstance(kind, str) and cbv.term("measurement", kind) == "Temperature"


def readings(event: Mapping[str, Any]) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """``({logger: [{t, celsius}] in strict time order}, [why a report was not used])``."""
    by_logger: dict[str, dict[datetime, float]] = {}
    problems: list[str] = []
    event_time = utc(event.get("eventTime"))
    for i, element in enumerate(event.get("sensorElementList") or []):
        if not isinstance(element, Mapping):
            continue
        meta = element.get("sensorMetadata") if isinstance(element.get("sensorMetadata"), Mapping) else {}
        for j, report in enumerate(element.get("sensorReport") or []):
            if not isinstance(report, Mapping):
                continue
            where = f"sensorElementList/{i}/sensorReport/{j}"
            if not _is_temperature(report):
                if isinstance(report.get("exception"), str) and report.get("type") is None:
                    problems.append(f"{where}: an alarm without a measurement type or value")
                continue
            logger = ids.party(report.get("deviceID") or meta.get("deviceID")) or DEFAULT_LOGGER
            at = utc(report.get("time")) or utc(meta.get("time")) or event_time
            start = utc(meta.get("startTime")) or at
            end = utc(meta.get("endTime")) or at
            uom = report.get("uom", "CEL")
            points: list[tuple[datetime | None, float | None]] = []
            if "value" in report:
                points.append((at, _celsius(report.get("value"), uom)))
            elif "minValue" in report and "maxValue" in report and start and end and start < end:
                points += [(start, _celsius(report["minValue"], uom)),
                           (end, _celsius(report["maxValue"], uom))]
            elif "maxValue" in report or "meanValue" in report:
                points.append((end, _celsius(report.get("maxValue", report.get("meanValue")), uom)))
            if not points:
                problems.append(f"{where}: a Temperature report without a value")
                continue
            for moment, celsius in points:
                if moment is None or celsius is None:
                    problems.append(f"{where}: unit {uom!r} or the value cannot be read as °C")
                    continue
                by_logger.setdefault(str(logger)[:128], {})[moment] = celsius
    out = {logger: [{"t": format_utc(t), "celsius": c} for t, c in sorted(points.items())]
           for logger, points in by_logger.items()}
    return out, problems
