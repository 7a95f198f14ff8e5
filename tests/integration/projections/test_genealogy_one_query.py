"""A reader who may see everything gets a genealogy from one query (walk, nodes with their case
status, edges): it answers exactly what the stepwise reading (walk, scope filter, nodes, edges,
case statuses; still used for scoped readers) answers, from every case and unit of two journeys
(SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import text

from projections.genealogy_query import _graph_in_steps, genealogy_for_coi, genealogy_for_unit
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
