"""Genealogy drawn as columns: collection -> bags -> lots -> final product / samples -> shippers ->
infusion (a bag points to each shipper it travelled in).

Input: the genealogy read model (``genealogy_for_coi``) and the events of the streams it names
(to find each manufacturing step's lot). Output: boxes and curves with coordinates, drawn as
SVG by the ``_genealogy.svg`` template, plus a plain table of the same edges for readers who
cannot see the drawing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.domain.events_quality import UnitsDerived
from ledger.store.records import SealedEvent

from .text import kind_label

COLUMNS = ("Collection", "Bags", "Lots", "Final product", "Samples", "Shippers", "Infusion")
INFUSION = len(COLUMNS) - 1
CONTAINERS = {"shipper", "container", "dewar"}
RELATIONS = {"packed_in": "travelled in"}
COL_W, BOX_W, BOX_H, ROW_H, TOP, PAD = 240, 184, 70, 90, 44, 12


@dataclass
class Box:
    id: str
    column: int
    lines: list[str]
    css: str
    href: str | None = None
    label: str = ""
    x: int = 0
    y: int = 0


@dataclass
class Curve:
    src: str
    dst: str
    relation: str
    d: str = ""


@dataclass
class Drawing:
    boxes: list[Box] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    width: int = COL_W * len(COLUMNS)
    height: int = TOP + ROW_H
    columns: list[tuple[str, int]] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)  # text alternative


def _column(node: Mapping[str, Any]) -> int:
    if node["type"] == "case":
        return INFUSION if node["kind"] == "allogeneic" else 0
    if node["type"] == "infusion":
        return INFUSION
    if node["type"] == "lot":
        return COLUMNS.index("Lots")
    if node["kind"] in CONTAINERS:
        return COLUMNS.index("Shippers")
    if node["kind"] == "sample":
        return COLUMNS.index("Samples")
    return 3 if node["kind"] == "final_product_bag" else 1


def _box(node: Mapping[str, Any], coi: str, can_audit: bool) -> Box:
    date = (node.get("created_at") or "")[:10]
    if node["type"] == "case":
        href = None if node["coi"] == coi else f"/portal/cases/{node['coi']}"
        title = "Donor case" if node["kind"] == "donor" else f"{str(node['kind']).capitalize()} case"
        return Box(node["id"], _column(node), [title, node["coi"], node["status"]], "case", href,
                   f"{title} {node['coi']}, {node['status']}")
    if node["type"] == "infusion":
        href = f"#ev-{node['event_id']}" if can_audit else None
        return Box(node["id"], INFUSION, ["Infusion", node["label"] or "", date], "infusion", href,
                   f"Infusion of {node['label']} on {date}")
    if node["type"] == "lot":  # staged manufacturing: kind is the process, label the lot number
        process = str(node["kind"] or "manufacturing")
        short = process if len(process) <= 22 else process[:21] + "…"
        status = str(node["status"]).replace("_", " ")
        return Box(node["id"], COLUMNS.index("Lots"), [f"Lot {node['label']}", short, status], "lot", None,
                   f"Lot {node['label']}, {process}, {status}")
    kind = kind_label(node["kind"])
    css = "container" if node["kind"] in CONTAINERS else "sample" if node["kind"] == "sample" else "unit"
    return Box(node["id"], _column(node), [kind, node["label"] or "", node["status"]], css,
               f"#unit-{node['id']}", f"{kind} {node['label']}, {node['status']}")


def _lot(event: SealedEvent, can_audit: bool) -> Box:
    data = event.envelope["data"]
    batch = data.get("batch") or "lot"
    process = str(data.get("process") or "manufacturing")
    when = (event.envelope.get("occurred_at") or event.envelope["recorded_at"])[:10]
    href = f"#ev-{event.envelope['event_id']}" if can_audit else None
    short = process if len(process) <= 22 else process[:21] + "…"
    return Box(str(event.envelope["event_id"]), 2, [f"Lot {batch}", short, when], "lot", href,
               f"Lot {batch}, {process}, {when}")


def layout(graph: Mapping[str, Any], events: Mapping[str, SealedEvent], coi: str, can_audit: bool) -> Drawing:
    drawing = Drawing()
    boxes: dict[str, Box] = {n["id"]: _box(n, coi, can_audit) for n in graph["nodes"]}
    links: list[tuple[str, str, str]] = []
    for edge in graph["edges"]:
        src, dst, relation = edge["from"], edge["to"], edge["relation"]
        if relation == "labelled" and boxes[dst].column != 1:
            continue  # derived units hang off their lot, shippers off their bags
        if relation == "received":
            continue  # the infusion box names its product; the case is the page itself
        lot = next((events[e] for e in edge["event_ids"] if e in events and events[e].type == UnitsDerived.__name__),
                   None)
        if relation == "derived" and lot is not None:
            box = _lot(lot, can_audit)
            boxes.setdefault(box.id, box)
            links += [(src, box.id, "derived"), (box.id, dst, "derived")]
        else:
            links.append((src, dst, relation))
    seen: set[tuple[str, str]] = set()
    for src, dst, relation in links:
        if (src, dst) in seen or src not in boxes or dst not in boxes:
            continue
        seen.add((src, dst))
        drawing.curves.append(Curve(src, dst, relation))
        drawing.rows.append({"from": boxes[src].label, "relation": RELATIONS.get(relation, relation.replace("_", " ")),
                             "to": boxes[dst].label})
    _place(drawing, list(boxes.values()))
    return drawing


def _place(drawing: Drawing, boxes: list[Box]) -> None:
    per_column: dict[int, int] = {}
    for box in boxes:
        row = per_column.get(box.column, 0)
        per_column[box.column] = row + 1
        box.x = box.column * COL_W + (COL_W - BOX_W) // 2
        box.y = TOP + row * ROW_H
    drawing.boxes = boxes
    drawing.height = TOP + max(per_column.values(), default=1) * ROW_H + PAD
    drawing.columns = [(name, i * COL_W + COL_W // 2) for i, name in enumerate(COLUMNS)]
    placed = {b.id: b for b in boxes}
    for curve in drawing.curves:
        a, b = placed[curve.src], placed[curve.dst]
        if a.column == b.column:
            x = a.x + BOX_W // 2
            y1, y2 = (a.y + BOX_H, b.y) if a.y < b.y else (a.y, b.y + BOX_H)
            curve.d = f"M{x},{y1} L{x},{y2 - 6 if y2 > y1 else y2 + 6}"
            continue
        x1, y1 = a.x + BOX_W, a.y + BOX_H // 2
        x2, y2 = b.x - 8, b.y + BOX_H // 2
        mid = (x1 + x2) // 2
        curve.d = f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"
