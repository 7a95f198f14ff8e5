"""Queries of the genealogy read model (see ``projections.genealogy``): walk up and down from a
case or a unit with one recursive CTE, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from .common import sql
from .scope_query import EVERYTHING, ReadScope, visible_cases, visible_units

CHUNK = 500

_WALK_CTES = """
WITH RECURSIVE
  up(node) AS (SELECT node_id FROM genealogy_nodes WHERE {seed}
               UNION SELECT e.src FROM genealogy_edges e JOIN up ON e.dst = up.node
               WHERE e.relation <> 'packed_in'),
  down(node) AS (SELECT node_id FROM genealogy_nodes WHERE {seed}
                 UNION SELECT e.dst FROM genealogy_edges e JOIN down ON e.src = down.node)"""

WALK = _WALK_CTES + """
SELECT node FROM up UNION SELECT node FROM down
"""


def _in_scope(conn: Connection, scope: ReadScope, ids: list[str]) -> list[str]:
    """Those of the nodes ``ids`` in ``scope``: a node is seen with its case (an infusion with the
    patient's), a unit also when the scope's holder held it."""
    if scope.everything:
        return ids
    marks = ", ".join(f":n{i}" for i in range(len(ids)))
    nodes = conn.execute(sql(f"SELECT node_id, node_type, coi FROM genealogy_nodes WHERE node_id IN ({marks})"),
                         {f"n{i}": node for i, node in enumerate(ids)}).all()
    cases = visible_cases(conn, scope, [coi for _, _, coi in nodes])
    held = visible_units(conn, scope, [node for node, kind, _ in nodes if kind in ("unit", "lot")])
    return sorted(node for node, _, coi in nodes if coi in cases or node in held)


_NODE = ("id", "type", "coi", "kind", "label", "status", "case_id", "created_at", "event_id", "position")

# A reader who may see everything needs no scope filter between the walk and the rows: the walk,
# its nodes (a case node with the ``cases`` model's status) and its edges in one query.
#
# PostgreSQL cannot estimate a recursive CTE's rows (it guesses about a thousand), so with
# ``IN (SELECT node FROM walked)`` it hash-joins both whole tables: ~9 ms a case at 100k events,
# growing with the log. An array built once (an InitPlan, estimated at ten elements) makes it look
# each node up by its key: ~1 ms. SQLite looks them up by key either way.
_IN_WALKED = {"postgresql": "= ANY(ARRAY(SELECT node FROM walked))"}
WHOLE_GRAPH = _WALK_CTES + """,
  walked(node) AS (SELECT node FROM up UNION SELECT node FROM down)
SELECT 0 AS part, n.node_id AS c1, n.node_type AS c2, n.coi AS c3, n.kind AS c4, n.label AS c5,
       COALESCE(c.status, n.status) AS c6, n.case_id AS c7, n.created_at AS c8, n.event_id AS c9,
       n.position AS pos
  FROM genealogy_nodes n LEFT JOIN cases c ON n.node_type = 'case' AND c.case_id = n.node_id
 WHERE n.node_id {in_walked}
UNION ALL
SELECT 1, e.src, e.dst, e.relation, e.event_id, e.at, NULL, NULL, NULL, NULL, e.position
  FROM genealogy_edges e WHERE e.src {in_walked}
"""


def whole_graph(dialect: str, seed: str) -> str:
    """:data:`WHOLE_GRAPH` for ``dialect`` from the nodes matching ``seed``."""
    return WHOLE_GRAPH.format(seed=seed, in_walked=_IN_WALKED.get(dialect, "IN (SELECT node FROM walked)"))


def _graph(conn: Connection, seed: str, params: dict[str, Any],
           scope: ReadScope = EVERYTHING) -> dict[str, Any] | None:
    if not scope.everything:
        return _graph_in_steps(conn, seed, params, scope)
    nodes: list[dict[str, Any]] = []
    edge_rows: list[tuple[Any, ...]] = []
    for part, *values in conn.execute(sql(whole_graph(conn.dialect.name, seed)), params):
        if part == 0:
            nodes.append(dict(zip(_NODE, values, strict=True)))
        else:
            src, dst, relation, event_id, at, *_, position = values
            edge_rows.append((src, dst, relation, event_id, position, at))
    if not nodes:
        return None
    return _assemble(nodes, edge_rows, {n["id"] for n in nodes})


def _graph_in_steps(conn: Connection, seed: str, params: dict[str, Any],
                    scope: ReadScope = EVERYTHING) -> dict[str, Any] | None:
    """The walk, the scope filter, then the nodes and edges of what is in scope (by chunks)."""
    ids = sorted(r[0] for r in conn.execute(sql(WALK.format(seed=seed)), params))
    ids = [i for start in range(0, len(ids), CHUNK) for i in _in_scope(conn, scope, ids[start:start + CHUNK])]
    if not ids:
        return None
    nodes: list[dict[str, Any]] = []
    edge_rows: list[tuple[Any, ...]] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        marks = ", ".join(f":n{i}" for i in range(len(chunk)))
        bind = {f"n{i}": node for i, node in enumerate(chunk)}
        nodes += [dict(r._mapping) for r in conn.execute(sql(
            "SELECT node_id AS id, node_type AS type, coi, kind, label, status, case_id, "
            f"created_at, event_id, position FROM genealogy_nodes WHERE node_id IN ({marks})"),
            bind)]
        edge_rows += [tuple(r) for r in conn.execute(sql(
            "SELECT src, dst, relation, event_id, position, at FROM genealogy_edges "
            f"WHERE src IN ({marks})"), bind)]
    _case_statuses(conn, [n for n in nodes if n["type"] == "case"])
    return _assemble(nodes, edge_rows, set(ids))


def _assemble(nodes: list[dict[str, Any]], edge_rows: list[tuple[Any, ...]], wanted: set[str]) -> dict[str, Any]:
    edges: dict[tuple[str, str, str], dict[str, Any]] = {}
    for src, dst, relation, event_id, position, at in edge_rows:
        if dst not in wanted:
            continue
        edge = edges.setdefault((src, dst, relation), {
            "from": src, "to": dst, "relation": relation, "at": at, "position": position,
            "events": []})
        edge["events"].append((position, event_id))
        if position < edge["position"]:
            edge["position"], edge["at"] = position, at
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


def genealogy_for_coi(conn: Connection, coi: str, scope: ReadScope = EVERYTHING) -> dict[str, Any] | None:
    """Every node carrying ``coi`` with all its ancestors and descendants (those in ``scope``), or None.

    ``{"nodes": [{id, type, coi, kind, label, status, case_id, created_at, event_id}],
    "edges": [{from, to, relation, at, event_ids}]}`` in log order.
    """
    return _graph(conn, "coi = :coi", {"coi": coi}, scope)


def genealogy_for_unit(conn: Connection, unit_id: str, scope: ReadScope = EVERYTHING) -> dict[str, Any] | None:
    """The unit with all its ancestors and descendants (same shape, those in ``scope``), or None."""
    return _graph(conn, "node_id = :unit AND node_type = 'unit'", {"unit": str(unit_id)}, scope)
