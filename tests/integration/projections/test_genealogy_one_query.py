"""A reader who may see everything gets a genealogy from one query (walk, nodes with their case
status, edges): it answers exactly what the stepwise reading (walk, scope filter, nodes, edges,
case statuses; still used for scoped readers) answers, from every case and unit of two journeys
(SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from projections.db import make_engine
from projections.genealogy_query import _graph_in_steps, genealogy_for_coi, genealogy_for_unit, whole_graph
from projections.scope_query import EVERYTHING

from .journeys import allogeneic, autologous


def test_one_query_answers_what_the_steps_did(journey, runner, engine) -> None:
    autologous(journey)
    allogeneic(journey)
    runner.catch_up()
    with engine.connect() as conn:
        cois = [r[0] for r in conn.execute(text("SELECT coi FROM cases ORDER BY coi"))]
        units = [r[0] for r in conn.execute(text(
            "SELECT node_id FROM genealogy_nodes WHERE node_type = 'unit' ORDER BY node_id"))]
        assert len(cois) >= 2 and len(units) >= 6
        edges = 0
        for coi in cois:
            graph = genealogy_for_coi(conn, coi)
            assert graph == _graph_in_steps(conn, "coi = :coi", {"coi": coi}, EVERYTHING)
            assert any(n["type"] == "case" and n["status"] for n in graph["nodes"])
            edges += len(graph["edges"])
        for unit in units:
            assert genealogy_for_unit(conn, unit) == _graph_in_steps(
                conn, "node_id = :unit AND node_type = 'unit'", {"unit": unit}, EVERYTHING)
        assert edges >= 6
        assert genealogy_for_coi(conn, "COI-NONE") is None
        assert genealogy_for_unit(conn, "00000000-0000-0000-0000-000000000000") is None


@pytest.mark.postgres
def test_the_one_query_looks_nodes_up_by_key_on_a_large_postgresql_graph(pg_database) -> None:
    """PostgreSQL guesses a recursive walk at about a thousand rows: asked for the walk's nodes
    and edges with ``IN (SELECT ...)`` it hash-joined both whole tables (~9 ms a case at 100k
    events, growing with the log). The plan of the query as it runs must read them by key."""
    engine = make_engine(pg_database)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO genealogy_nodes (node_id, node_type, coi, status, flags, created_at, position, event_id) "
                "SELECT 'n' || i, 'unit', 'COI-' || ((i - 1) / 3), 'ok', '', now(), i, 'e' || i "
                "FROM generate_series(1, 20000) AS i"))
            conn.execute(text(
                "INSERT INTO genealogy_edges (src, dst, relation, event_id, position, at) "
                "SELECT 'n' || i, 'n' || (i + 1), 'derived', 'e' || i, i, now() "
                "FROM generate_series(1, 19999) AS i WHERE i % 3 <> 0"))
            conn.execute(text("ANALYZE genealogy_nodes"))
            conn.execute(text("ANALYZE genealogy_edges"))
            conn.execute(text("ANALYZE cases"))
        with engine.connect() as conn:
            query = whole_graph(conn.dialect.name, "coi = :coi").replace(":coi", "'COI-77'")
            plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + query)))
            assert "Seq Scan on genealogy_nodes" not in plan, plan
            assert "Seq Scan on genealogy_edges" not in plan, plan
            graph = genealogy_for_coi(conn, "COI-77")
        assert graph is not None
        assert sorted(n["id"] for n in graph["nodes"]) == ["n232", "n233", "n234"]
        assert [(e["from"], e["to"]) for e in graph["edges"]] == [("n232", "n233"), ("n233", "n234")]
    finally:
        engine.dispose()
