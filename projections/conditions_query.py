"""Queries of the conditions read model: a unit's readings (own and inherited) and excursions.

A unit's readings are its own loggers' uploads plus, for each interval it was packed in a
container, the container's readings taken within that interval (bounds inclusive, as the
domain's excursion detection counts them). Uploads entirely inside a window contribute their
stored aggregates; only uploads cut by a window, or overlapping another upload of the same
logger (a re-upload), are parsed and de-duplicated by time.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from .common import InvalidCursor, from_micros, rows, sql

MAX_READINGS_PAGE = 10_000
CHUNK = 500  # uploads read in one query
UPLOAD_COLUMNS = "event_id, unit_id, logger, first_us, last_us, n, min_celsius, max_celsius"


@dataclass
class Segment:
    """An upload seen through a window ``[lo, hi]`` (None: unbounded)."""

    upload: dict[str, Any]
    lo: int | None
    hi: int | None
    via_container: bool
    parse: bool = False
    points: list[list[Any]] | None = field(default=None, repr=False)

    @property
    def start(self) -> int:
        return max(self.upload["first_us"], self.lo if self.lo is not None else -(2**62))

    @property
    def end(self) -> int:
        return min(self.upload["last_us"], self.hi if self.hi is not None else 2**62)

    @property
    def whole(self) -> bool:
        return self.start == self.upload["first_us"] and self.end == self.upload["last_us"]

    def see(self, raw: str) -> None:
        """Keep as ``points`` the upload's readings (its stored JSON) within the window."""
        self.points = [p for p in json.loads(raw) if self.start <= p[0] <= self.end]


def _read_points(conn: Connection, segments: list[Segment]) -> None:
    """Fill ``points`` of every segment not yet read: one query for all their uploads."""
    waiting = [s for s in segments if s.points is None]
    if not waiting:
        return
    wanted = sorted({s.upload["event_id"] for s in waiting})
    raw: dict[str, str] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        marks = ", ".join(f":e{i}" for i in range(len(chunk)))
        raw.update(conn.execute(sql(f"SELECT event_id, readings FROM condition_uploads WHERE event_id IN ({marks})"),
                                {f"e{i}": e for i, e in enumerate(chunk)}).all())
    for s in waiting:
        s.see(raw[s.upload["event_id"]])


_SEGMENTS = f"""
SELECT 0 AS via, NULL AS lo, NULL AS hi, NULL AS packed, {UPLOAD_COLUMNS}
  FROM condition_uploads WHERE unit_id = :u
UNION ALL
SELECT 1, p.from_us, p.to_us, p.from_us, {", ".join(f"c.{c}" for c in UPLOAD_COLUMNS.split(", "))}
  FROM condition_packing p JOIN condition_uploads c ON c.unit_id = p.container_id
 WHERE p.unit_id = :u AND c.last_us >= p.from_us AND (p.to_us IS NULL OR c.first_us <= p.to_us)
ORDER BY via, packed, first_us"""


def _segments(conn: Connection, unit_id: str) -> list[Segment]:
    """The unit's own uploads, then its containers' uploads seen through each packing interval, in
    one query."""
    segments = []
    for upload in rows(conn.execute(sql(_SEGMENTS), {"u": unit_id})):
        via, lo, hi = bool(upload.pop("via")), upload.pop("lo"), upload.pop("hi")
        del upload["packed"]
        segments.append(Segment(upload, lo, hi, via))
    segments = [s for s in segments if s.start <= s.end]
    by_logger: dict[tuple[str, str], list[Segment]] = defaultdict(list)
    for s in segments:
        s.parse = not s.whole
        by_logger[(s.upload["unit_id"], s.upload["logger"])].append(s)
    for group in by_logger.values():
        group.sort(key=lambda s: (s.start, s.upload["event_id"]))
        for before, after in zip(group, group[1:], strict=False):
            if after.start <= before.end:
                before.parse = after.parse = True
    segments.sort(key=lambda s: (s.start, s.upload["unit_id"], s.upload["logger"],
                                 s.upload["event_id"]))
    return segments


def _merged(conn: Connection, segments: list[Segment]) -> list[tuple[int, float, str, str]]:
    """(t_us, celsius, source, logger) of ``segments``, in time order, one per source/logger/t."""
    _read_points(conn, segments)
    seen: set[tuple[str, str, int]] = set()
    out = []
    for s in segments:
        source, logger = s.upload["unit_id"], s.upload["logger"]
        for t, c in s.points or ():
            if (source, logger, t) not in seen:
                seen.add((source, logger, t))
                out.append((t, c, source, logger))
    out.sort(key=lambda r: (r[0], r[2], r[3]))
    return out


def _summary(conn: Connection, segments: list[Segment]) -> dict[str, Any]:
    sources: dict[tuple[str, str], dict[str, Any]] = {}

    def add(key: tuple[str, str], via: bool, n: int, lo: float, hi: float, first: int,
            last: int) -> None:
        s = sources.setdefault(key, {"source": key[0], "logger": key[1], "via_container": via,
                                     "count": 0, "min_celsius": lo, "max_celsius": hi,
                                     "first_us": first, "last_us": last})
        s["count"] += n
        s["min_celsius"], s["max_celsius"] = min(s["min_celsius"], lo), max(s["max_celsius"], hi)
        s["first_us"], s["last_us"] = min(s["first_us"], first), max(s["last_us"], last)

    for s in segments:
        if not s.parse:
            u = s.upload
            add((u["unit_id"], u["logger"]), s.via_container, u["n"], u["min_celsius"],
                u["max_celsius"], u["first_us"], u["last_us"])
    parsed = [s for s in segments if s.parse]
    vias = {(s.upload["unit_id"], s.upload["logger"]): s.via_container for s in parsed}
    for t, c, source, logger in _merged(conn, parsed):
        add((source, logger), vias[(source, logger)], 1, c, c, t, t)
    listed = sorted(sources.values(), key=lambda s: (s["first_us"], s["source"], s["logger"]))
    for s in listed:
        s["first"], s["last"] = from_micros(s.pop("first_us")), from_micros(s.pop("last_us"))
    return {
        "count": sum(s["count"] for s in listed),
        "min_celsius": min((s["min_celsius"] for s in listed), default=None),
        "max_celsius": max((s["max_celsius"] for s in listed), default=None),
        "first": min((s["first"] for s in listed), default=None),
        "last": max((s["last"] for s in listed), default=None),
        "sources": listed,
    }


def _downsample(points: list[tuple[int, float, str, str]], limit: int) -> list[Any]:
    """At most ``limit`` readings: the lowest and highest of each time bucket (peaks kept)."""
    if len(points) <= limit:
        return points
    buckets = max(1, limit // 2)
    size = -(-len(points) // buckets)
    out = []
    for start in range(0, len(points), size):
        chunk = points[start:start + size]
        low, high = min(chunk, key=lambda p: p[1]), max(chunk, key=lambda p: p[1])
        out += sorted({low, high}, key=lambda p: (p[0], p[2], p[3]))
    return out


def excursions_of(conn: Connection, unit_id: str) -> list[dict[str, Any]]:
    found = rows(conn.execute(sql(
        "SELECT excursion_id, source, logger, start_at AS start, end_at AS \"end\", duration_s, "
        "min_celsius, max_celsius, limit_min, limit_max, readings, ongoing, detected_event_id, "
        "decision, rationale, assessed_by, assessor_name, assessed_at, assessed_event_id "
        "FROM excursions WHERE unit_id = :u ORDER BY start_at, excursion_id"), {"u": unit_id}))
    for x in found:
        x["ongoing"] = bool(x["ongoing"])
        x["status"] = x["decision"] or "unassessed"
    return found


def conditions_for_unit(conn: Connection, unit_id: str, *, limit: int = 1000,
                        cursor: str | None = None, downsample: bool = False) -> dict[str, Any] | None:
    """The unit's chain of condition, or None for an unknown unit::

        {unit_id, coi, label, kind, spec: {min_celsius, max_celsius, source},
         summary: {count, min_celsius, max_celsius, first, last,
                   sources: [{source, logger, via_container, count, min_celsius, max_celsius,
                              first, last}]},
         excursions: [{excursion_id, source, logger, start, end, duration_s, min_celsius,
                       max_celsius, limit_min, limit_max, readings, ongoing, status,
                       decision, rationale, assessed_by, assessor_name, assessed_at,
                       detected_event_id, assessed_event_id}],
         readings: [{t, celsius, source, logger}], next_cursor, downsampled}

    ``readings`` is a page of ``limit`` in time order (``next_cursor`` continues it), or with
    ``downsample`` the whole series reduced to at most ``limit`` points (min and max of each
    time bucket, so peaks survive).
    """
    unit_id = str(unit_id)
    limit = max(2, min(limit, MAX_READINGS_PAGE))
    found = rows(conn.execute(sql(
        "SELECT unit_id, coi, label, kind, min_celsius, max_celsius FROM condition_units "
        "WHERE unit_id = :u"), {"u": unit_id}))
    if not found:
        return None
    out = found[0]
    out["spec"] = _spec(conn, unit_id, out.pop("min_celsius"), out.pop("max_celsius"))
    segments = _segments(conn, unit_id)
    out["summary"] = _summary(conn, segments)
    out["excursions"] = excursions_of(conn, unit_id)
    after = _after(cursor)
    if downsample:
        points, more = _downsample(_merged(conn, segments), limit), False
    else:
        window = [s for s in segments if s.end > after]
        points = []
        for i in range(len(window)):
            points = _merged(conn, window[:i + 1])
            points = [p for p in points if p[0] > after]
            if len(points) > limit and (i + 1 == len(window) or window[i + 1].start > points[limit][0]):
                break
        more = len(points) > limit
        cut = limit
        while more and cut > 1 and points[cut - 1][0] == points[cut][0]:
            cut -= 1  # never split one instant across two pages
        points = points[:cut]
    out["readings"] = [{"t": from_micros(t), "celsius": c, "source": source, "logger": logger}
                       for t, c, source, logger in points]
    out["next_cursor"] = f"t{points[-1][0]}" if more and points else None
    out["downsampled"] = downsample
    return out


def _spec(conn: Connection, unit_id: str, low: float | None, high: float | None) -> dict[str, Any]:
    """The unit's own range (``source`` "own"); a container without one inherits the narrowest
    range of the units it has carried (``source`` "contents"); ``source`` None: no range."""
    if low is not None or high is not None:
        return {"min_celsius": low, "max_celsius": high, "source": "own"}
    carried = conn.execute(sql(
        "SELECT MAX(u.min_celsius), MIN(u.max_celsius) FROM condition_packing p "
        "JOIN condition_units u ON u.unit_id = p.unit_id WHERE p.container_id = :c"), {"c": unit_id}).one()
    if carried[0] is None and carried[1] is None:
        return {"min_celsius": None, "max_celsius": None, "source": None}
    return {"min_celsius": carried[0], "max_celsius": carried[1], "source": "contents"}


def _after(cursor: str | None) -> int:
    if not cursor:
        return -(2**62)
    if not cursor.startswith("t") or not cursor[1:].lstrip("-").isdigit():
        raise InvalidCursor("the cursor is not one this service issued")
    return int(cursor[1:])
