"""The custody timeline is read with one query (a union of the four custody tables): it answers
exactly what the four per-table queries it replaced answer, for every unit of two journeys
(SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import text

from projections.custody_query import custody_timeline

from .journeys import allogeneic, autologous


def _by_table(conn, unit_id: str) -> dict:
    """The four queries the timeline was read with before."""
    def rows(statement: str) -> list[dict]:
        return [dict(r._mapping) for r in conn.execute(text(statement), {"u": unit_id})]

    [unit] = rows("SELECT unit_id, coi, label, kind, custodian, location, container, ended_at, ended_by "
                  "FROM custody_units WHERE unit_id = :u")
    unit["intervals"] = rows("SELECT holder, location, from_at AS \"from\", to_at AS \"to\", via_container, "
                             "start_event_id, end_event_id FROM custody_intervals WHERE unit_id = :u ORDER BY idx")
    unit["transfers"] = rows("SELECT from_party, to_party, location, offered_at, outcome, closed_at, "
                             "offer_event_id, close_event_id, via_container FROM custody_transfers "
                             "WHERE unit_id = :u ORDER BY idx")
    unit["shipments"] = rows("SELECT carrier, tracking, from_site, to_site, dispatched_at, delivered_at, "
                             "dispatch_event_id, delivery_event_id, via_container FROM custody_shipments "
                             "WHERE unit_id = :u ORDER BY idx")
    return unit


def test_one_query_answers_what_the_four_did(journey, runner, engine) -> None:
    autologous(journey)
    allogeneic(journey)
    runner.catch_up()
    with engine.connect() as conn:
        units = [r[0] for r in conn.execute(text("SELECT unit_id FROM custody_units ORDER BY unit_id"))]
        assert len(units) >= 6
        compared = 0
        for unit in units:
            timeline = custody_timeline(conn, unit, now=journey.now)
            expected = _by_table(conn, unit)
            for key, value in expected.items():
                assert timeline[key] == value, (unit, key)
                assert list(timeline) [:len(expected)] == list(expected)  # same keys, same order
            compared += sum(len(expected[k]) for k in ("intervals", "transfers", "shipments"))
        assert compared >= 10  # the journeys had custody to compare
        assert custody_timeline(conn, "00000000-0000-0000-0000-000000000000") is None
