"""A unit's temperature chart: readings over time, the spec band, excursions highlighted.

Input: ``conditions_for_unit(..., downsample=True)`` (peaks survive the downsampling). Output:
coordinates for the ``_chart.svg`` template; no drawing library, nothing at run time in the
browser.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.timefmt import parse_utc

W, H = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 60, 16, 28, 44


@dataclass
class Chart:
    width: int = W
    height: int = H
    plot: tuple[int, int, int, int] = (LEFT, TOP, W - LEFT - RIGHT, H - TOP - BOTTOM)
    line: str = ""
    band: tuple[float, float] | None = None  # y of the upper and lower spec limit
    band_labels: list[tuple[float, str]] = field(default_factory=list)
    outside: list[tuple[float, float, str]] = field(default_factory=list)
    excursions: list[dict[str, Any]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    summary: str = ""


def _nice_step(span: float) -> float:
    raw = span / 5 if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _t(text: str) -> float:
    return parse_utc(text).timestamp()


def build(conditions: Mapping[str, Any]) -> Chart | None:
    """The chart of one unit's readings, or None when it has fewer than two."""
    readings = conditions.get("readings") or []
    if len(readings) < 2:
        return None
    chart = Chart()
    px, py, pw, ph = chart.plot
    spec = conditions.get("spec") or {}
    lo_spec, hi_spec = spec.get("min_celsius"), spec.get("max_celsius")
    temps = [r["celsius"] for r in readings]
    low = min([*temps, *(v for v in (lo_spec, hi_spec) if v is not None)])
    high = max([*temps, *(v for v in (lo_spec, hi_spec) if v is not None)])
    if high - low < 2:  # a flat line still gets a readable scale
        low, high = low - 1, high + 1
    step = _nice_step(high - low)
    y0, y1 = math.floor(low / step) * step - step, math.ceil(high / step) * step + step
    t0, t1 = _t(readings[0]["t"]), _t(readings[-1]["t"])
    t1 = t1 if t1 > t0 else t0 + 60

    def x(t: float) -> float:
        return round(px + (t - t0) / (t1 - t0) * pw, 1)

    def y(c: float) -> float:
        return round(py + (y1 - c) / (y1 - y0) * ph, 1)

    chart.line = " ".join(f"{x(_t(r['t']))},{y(r['celsius'])}" for r in readings)
    if lo_spec is not None or hi_spec is not None:
        top, bottom = y(hi_spec if hi_spec is not None else y1), y(lo_spec if lo_spec is not None else y0)
        chart.band = (top, bottom)
        chart.band_labels = [(y(v), f"{'max' if v == hi_spec else 'min'} {v:g} °C")
                             for v in (hi_spec, lo_spec) if v is not None]
    chart.outside = [(x(_t(r["t"])), y(r["celsius"]), f"{r['t'][:16].replace('T', ' ')} UTC: {r['celsius']} °C")
                     for r in readings if (lo_spec is not None and r["celsius"] < lo_spec)
                     or (hi_spec is not None and r["celsius"] > hi_spec)]
    for number, exc in enumerate(conditions.get("excursions") or [], start=1):
        start = x(max(t0, _t(exc["start"])))
        end = x(min(t1, _t(exc["end"]))) if exc.get("end") else px + pw
        chart.excursions.append({"number": number, "x": start, "w": max(end - start, 3), "status": exc["status"],
                                 "label": f"Excursion {number}: {exc['status']}"})
    value = y0
    while value <= y1 + step / 2:
        chart.y_ticks.append((y(value), f"{value:g}"))
        value += step
    for i in range(5):
        t = t0 + (t1 - t0) * i / 4
        chart.x_ticks.append((x(t), datetime.fromtimestamp(t, tz=parse_utc(readings[0]["t"]).tzinfo)
                              .strftime("%m-%d %H:%M")))
    summary = conditions.get("summary") or {}
    limits = (f"spec {lo_spec:g} to {hi_spec:g} °C" if lo_spec is not None and hi_spec is not None
              else "no temperature spec")
    chart.summary = (f"{summary.get('count', len(readings))} readings from {readings[0]['t'][:16].replace('T', ' ')}"
                     f" to {readings[-1]['t'][:16].replace('T', ' ')} UTC, lowest {min(temps):g} °C, highest "
                     f"{max(temps):g} °C; {limits}; {len(chart.excursions)} excursion(s).")
    return chart
