"""The genealogy read model: patient case -> units -> derived units -> infusion, as a graph.

Nodes (``genealogy_nodes``): ``case`` (kind autologous / allogeneic / donor, label = COI),
``unit`` (kind, label, COI, status), ``lot`` (kind = process, label = lot number, status
``started`` / ``in_process`` / ``filled``) and ``infusion`` (one per ``ProductInfused``, id = its
event id). Edges (``genealogy_edges``, one row per creating event), all pointing downstream:

* ``labelled``: case -> unit (``UnitLabelled``)
* ``derived``: parent -> child (``UnitLabelled.parents`` and ``UnitsDerived`` on each input);
  staged manufacturing: input -> lot (``ManufacturingStarted``), lot -> output (the outputs'
  ``UnitLabelled.parents``)
* ``allocated_to``: donor dose -> patient case (``ProductAllocated``, on both streams)
* ``infused``: unit -> infusion, and ``received``: patient case -> infusion (``ProductInfused``)
* ``packed_in``: unit -> container (``PackedInto`` and ``UnpackedFrom``: which bag travelled in
  which shipper); never walked upwards, so a shared shipper does not pull in other cases

A unit node's ``status`` follows its events: the first set of ``disposed``, ``infused``,
``consumed``, ``quarantined``, ``qc_failed`` (latest result of a test failed), ``in_transit``,
``packed``, ``delivered``, ``allocated``, ``released``, ``collected``, else ``labelled``. A case
node's status is the ``cases`` read model's (see ``projections.cases``).

The graph is acyclic, so walking up (ancestors) and down (descendants) from the seeds with a
recursive CTE terminates; both walks run in one query on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from .common import ReadModel, dumps, loads, sql, when

PRECEDENCE = ("disposed", "infused", "consumed", "quarantined", "qc_failed", "in_transit", "packed",
              "delivered", "allocated", "released", "collected", "filled", "in_process", "started")
CHUNK = 500


def _status(flags: set[str]) -> str:
    """The first of :data:`PRECEDENCE` set (``qc_failed:<test>`` counts as ``qc_failed``)."""
    kinds = {f.split(":", 1)[0] for f in flags}
    return next((f for f in PRECEDENCE if f in kinds), "labelled")


class GenealogyProjection(ReadModel):
    name = "genealogy"
    tables = ("genealogy_nodes", "genealogy_edges")

    def __init__(self) -> None:
        super().__init__()
        self._flags: dict[str, set[str]] = {}  # node -> flags, as written in this batch

    def begin_batch(self) -> None:
        self._flags = {}

    def _node(self, conn: Connection, position: int, env: Mapping[str, Any], node_id: str,
              node_type: str, coi: str | None, kind: str | None, label: str | None,
              status: str, case_id: str | None) -> None:
        conn.execute(sql(
            "INSERT INTO genealogy_nodes (node_id, node_type, coi, kind, label, status, flags, "
            "case_id, created_at, position, event_id) VALUES (:id, :t, :coi, :kind, :label, "
            ":status, '[]', :case_id, :at, :p, :e)"),
            {"id": node_id, "t": node_type, "coi": coi, "kind": kind, "label": label,
             "status": status, "case_id": case_id, "at": when(env), "p": position,
             "e": env["event_id"]})
        self._flags[node_id] = set()  # as just written: no read-back for its first flag

    def _edge(self, conn: Connection, position: int, env: Mapping[str, Any], src: str, dst: str,
              relation: str) -> None:
        conn.execute(sql(
            "INSERT INTO genealogy_edges (src, dst, relation, event_id, position, at) "
            "VALUES (:s, :d, :r, :e, :p, :at)"),
            {"s": src, "d": dst, "r": relation, "e": env["event_id"], "p": position,
             "at": when(env)})

    def _flag(self, conn: Connection, node_id: str, flag: str, on: bool = True) -> None:
        self._update(conn, node_id, add=(flag,) if on else (), drop=() if on else (flag,))

    def _update(self, conn: Connection, node_id: str, add: tuple[str, ...] = (),
                drop: tuple[str, ...] = ()) -> None:
        flags = self._flags.get(node_id)
        if flags is None:
            row = conn.execute(sql("SELECT flags FROM genealogy_nodes WHERE node_id = :n"),
                               {"n": node_id}).first()
            if row is None:
                return
            flags = set(loads(row[0]))
        flags = (flags - set(drop)) | set(add)
        self._flags[node_id] = flags
        conn.execute(sql("UPDATE genealogy_nodes SET flags = :f, status = :s WHERE node_id = :n"),
                     {"f": dumps(sorted(flags)), "s": _status(flags), "n": node_id})

    def on_CaseEnrolled(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        self._node(conn, position, env, env["stream"], "case", d["coi"], d["kind"], d["coi"],
                   "enrolled", env["stream"])

    def on_DonorRegistered(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        self._node(conn, position, env, env["stream"], "case", d["coi"], "donor", d["coi"],
                   "enrolled", env["stream"])

    def on_UnitLabelled(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d, unit = env["data"], env["stream"]
        self._node(conn, position, env, unit, "unit", d["coi"], d["kind"], d["label"],
                   "labelled", d["case"])
        self._edge(conn, position, env, d["case"], unit, "labelled")
        for parent in d.get("parents", []):
            self._edge(conn, position, env, parent, unit, "derived")

    def on_UnitsDerived(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        for output in d["outputs"]:
            self._edge(conn, position, env, env["stream"], output, "derived")
        if d.get("consumed", True):
            self._flag(conn, env["stream"], "consumed")

    def on_ManufacturingStarted(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d, stream = env["data"], env["stream"]
        if stream in d["inputs"]:
            self._flag(conn, stream, "consumed")
            return
        self._node(conn, position, env, stream, "lot", d["coi"], d["process"], d["lot"], "started",
                   d["case"])
        self._flag(conn, stream, "started")
        for source in d["inputs"]:
            self._edge(conn, position, env, source, stream, "derived")

    def on_ManufacturingStepRecorded(self, conn: Connection, position: int,
                                     env: Mapping[str, Any]) -> None:
        self._flag(conn, env["stream"], "in_process")

    def on_ProductFilled(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        self._flag(conn, env["stream"], "filled")

    def on_ProductAllocated(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        self._edge(conn, position, env, d["unit"], d["patient_case"], "allocated_to")
        if env["stream"] == d["unit"]:
            self._update(conn, d["unit"], add=("allocated",), drop=("delivered",))

    def on_PackedInto(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        if env["stream"] == d["unit"]:  # recorded on both streams: one edge
            self._edge(conn, position, env, d["unit"], d["container"], "packed_in")
        self._update(conn, env["stream"], add=("packed",), drop=("delivered",))

    def on_UnpackedFrom(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        if env["stream"] == d["unit"]:
            self._edge(conn, position, env, d["unit"], d["container"], "packed_in")
        self._update(conn, env["stream"], drop=("packed", "in_transit"))

    def on_ShipmentDispatched(self, conn: Connection, position: int,
                              env: Mapping[str, Any]) -> None:
        self._update(conn, env["stream"], add=("in_transit",), drop=("delivered",))

    def on_ShipmentDelivered(self, conn: Connection, position: int,
                             env: Mapping[str, Any]) -> None:
        self._update(conn, env["stream"], add=("delivered",), drop=("in_transit",))

    def on_QCResultRecorded(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d, flag = env["data"], f"qc_failed:{env['data']['test']}"
        failed = d["result"] != "pass"  # the latest result of each test counts, as at release
        self._update(conn, env["stream"], add=(flag,) if failed else (), drop=() if failed else (flag,))

    def on_ProductInfused(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        infusion = env["event_id"]
        self._node(conn, position, env, infusion, "infusion", d["coi"], None, d["label"],
                   "infused", d["case"])
        self._edge(conn, position, env, env["stream"], infusion, "infused")
        self._edge(conn, position, env, d["case"], infusion, "received")
        self._flag(conn, env["stream"], "infused")

    def on_MaterialCollected(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        self._flag(conn, env["stream"], "collected")

    def on_ProductReleased(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        self._update(conn, env["stream"], add=("released",), drop=("delivered",))

    def on_UnitQuarantined(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        self._flag(conn, env["stream"], "quarantined")

    def on_UnitReleasedFromQuarantine(self, conn: Connection, position: int,
                                      env: Mapping[str, Any]) -> None:
        self._flag(conn, env["stream"], "quarantined", on=False)

    def on_UnitDisposed(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        self._flag(conn, env["stream"], "disposed")

    def on_EventCorrected(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        kinds = {"UnitLabelled": "kind", "CaseEnrolled": "kind"}
        field = kinds.get(d["corrected_type"])
        for change in d["changes"]:
            if change["field"] == field:
                conn.execute(sql("UPDATE genealogy_nodes SET kind = :k WHERE node_id = :n"),
                             {"k": change["new"], "n": env["stream"]})


WALK = """
WITH RECURSIVE
  up(node) AS (SELECT node_id FROM genealogy_nodes WHERE {seed}
               UNION SELECT e.src FROM genealogy_edges e JOIN up ON e.dst = up.node
               WHERE e.relation <> 'packed_in'),
  down(node) AS (SELECT node_id FROM genealogy_nodes WHERE {seed}
                 UNION SELECT e.dst FROM genealogy_edges e JOIN down ON e.src = down.node)
SELECT node FROM up UNION SELECT node FROM down
"""


def _graph(conn: Connection, seed: str, params: dict[str, Any]) -> dict[str, Any] | None:
    ids = sorted(r[0] for r in conn.execute(sql(WALK.format(seed=seed)), params))
    if not ids:
        return None
    nodes: list[dict[str, Any]] = []
    edges: dict[tuple[str, str, str], dict[str, Any]] = {}
    wanted = set(ids)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        marks = ", ".join(f":n{i}" for i in range(len(chunk)))
        bind = {f"n{i}": node for i, node in enumerate(chunk)}
        nodes += [dict(r._mapping) for r in conn.execute(sql(
            "SELECT node_id AS id, node_type AS type, coi, kind, label, status, case_id, "
            f"created_at, event_id, position FROM genealogy_nodes WHERE node_id IN ({marks})"),
            bind)]
        for src, dst, relation, event_id, position, at in conn.execute(sql(
                "SELECT src, dst, relation, event_id, position, at FROM genealogy_edges "
                f"WHERE src IN ({marks})"), bind):
            if dst not in wanted:
                continue
            edge = edges.setdefault((src, dst, relation), {
                "from": src, "to": dst, "relation": relation, "at": at, "position": position,
                "events": []})
            edge["events"].append((position, event_id))
            if position < edge["position"]:
                edge["position"], edge["at"] = position, at
    _case_statuses(conn, [n for n in nodes if n["type"] == "case"])
    nodes.sort(key=lambda n: (n["position"], n["id"]))
    out_edges = []
    for edge in sorted(edges.values(), key=lambda e: (e["position"], e["from"], e["to"])):
        edge["event_ids"] = [e for _, e in sorted(edge.pop("events"))]
        edge.pop("position")
        out_edges.append(edge)
    for node in nodes:
        node.pop("position")
    return {"nodes": nodes, "edges": out_edges}


def _case_statuses(conn: Connection, cases: list[dict[str, Any]]) -> None:
    """A case node's status is the case status of the ``cases`` read model (one definition)."""
    if not cases:
        return
    marks = ", ".join(f":c{i}" for i in range(len(cases)))
    found = dict(conn.execute(sql(f"SELECT case_id, status FROM cases WHERE case_id IN ({marks})"),
                              {f"c{i}": n["id"] for i, n in enumerate(cases)}).all())
    for node in cases:
        node["status"] = found.get(node["id"], node["status"])


def genealogy_for_coi(conn: Connection, coi: str) -> dict[str, Any] | None:
    """Every node carrying ``coi`` with all its ancestors and descendants, or None.

    ``{"nodes": [{id, type, coi, kind, label, status, case_id, created_at, event_id}],
    "edges": [{from, to, relation, at, event_ids}]}`` in log order.
    """
    return _graph(conn, "coi = :coi", {"coi": coi})


def genealogy_for_unit(conn: Connection, unit_id: str) -> dict[str, Any] | None:
    """The unit with all its ancestors and descendants (same shape), or None."""
    return _graph(conn, "node_id = :unit AND node_type = 'unit'", {"unit": str(unit_id)})
