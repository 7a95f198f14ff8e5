"""The capacity board: site x resource rows, one column per local day, each cell shaded by the
share of its slots booked; one order's slots outlined (solid: its plan now; dashed: its first booked
plan), so a re-planned order visibly moves. Output: coordinates for the ``_board.html`` SVG."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

CELL, GAP, LABEL_W, HEAD_H = 14, 2, 190, 34


@dataclass
class Board:
    width: int
    height: int
    cells: list[dict[str, Any]] = field(default_factory=list)
    labels: list[dict[str, Any]] = field(default_factory=list)
    ticks: list[dict[str, Any]] = field(default_factory=list)
    now: list[dict[str, Any]] = field(default_factory=list)
    first: list[dict[str, Any]] = field(default_factory=list)
    summary: str = ""


def shade(slots: int, booked: int) -> str:
    """A CSS class per utilisation band: none (no slots), free, under half, over half, full."""
    if slots <= 0:
        return "u-none"
    share = booked / slots
    return "u-free" if booked == 0 else "u-low" if share < 0.5 else "u-high" if share < 1 else "u-full"


def build(rows: list[dict[str, Any]], first: date, last: date, *, now_slots: set[tuple[str, str, str]] = frozenset(),
          first_slots: set[tuple[str, str, str]] = frozenset()) -> Board:
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    column = {d.isoformat(): LABEL_W + i * (CELL + GAP) for i, d in enumerate(days)}
    board = Board(width=LABEL_W + len(days) * (CELL + GAP) + 8, height=HEAD_H + len(rows) * (CELL + GAP) + 8)
    for i, d in enumerate(days):
        if d.weekday() == 0 or i == 0:
            board.ticks.append({"x": column[d.isoformat()], "label": d.strftime("%d %b")})
    booked = slots = 0
    for r, row in enumerate(rows):
        y = HEAD_H + r * (CELL + GAP)
        board.labels.append({"y": y + CELL - 3, "text": f"{row['site']} · {row['resource']}"})
        for day, (n, b) in row["days"].items():
            if day not in column:
                continue
            slots, booked = slots + n, booked + b
            cell = {"x": column[day], "y": y, "cls": shade(n, b), "title": f"{row['site']} {row['resource']} {day}: "
                    f"{b} of {n} booked"}
            board.cells.append(cell)
        for held, into in ((now_slots, board.now), (first_slots, board.first)):
            for site, resource, day in sorted(held):
                if site == row["site"] and resource == row["resource"] and day in column:
                    into.append({"x": column[day], "y": y, "title": f"{site} {resource} {day}"})
    rate = f"{booked / slots:.0%}" if slots else "no slots"
    board.summary = (f"{len(rows)} site resources over {len(days)} days ({first} to {last}): {booked} of {slots} "
                     f"slots booked ({rate}).")
    return board
