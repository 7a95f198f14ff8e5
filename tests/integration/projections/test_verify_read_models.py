"""``verify_read_models``: the stored read models against a replay of the log with the same
projectors, up to the position they have applied (a follower behind the log is not a finding)."""

from __future__ import annotations

from projections.verify_read_models import verify_read_models
from tests import tamper

from .journeys import autologous


def test_rows_deleted_or_edited_are_named_and_an_unapplied_tail_is_not(database, journey, runner):
    ids = autologous(journey)
    runner.catch_up()
    applied = journey.ledger.last_position()
    clean = verify_read_models(database)
    assert clean.intact and clean.position == applied and clean.rows > 100, clean.differences

    journey.enrol("autologous", "MRN-77009999")  # appended, not yet applied by the follower
    behind = verify_read_models(database)
    assert behind.intact and behind.position == applied < journey.ledger.last_position()

    shipper, bag = str(ids["shipper"]), str(ids["bag"])
    assert tamper.edit_read_model(database, "DELETE FROM custody_intervals WHERE unit_id = ? AND idx = "
                                  "(SELECT MIN(idx) FROM custody_intervals WHERE unit_id = ?)", (bag, bag)) == 1
    assert tamper.edit_read_model(database, "UPDATE condition_units SET max_celsius = 30 WHERE unit_id = ?",
                                  (shipper,)) == 1
    lines = [d.line() for d in verify_read_models(database).differences]
    assert any(line.startswith(f"read model custody_intervals [unit_id={bag}, idx=") and line.endswith(
        "]: missing (the events make this row, it is not stored)") for line in lines), lines
    assert any(line.startswith(f"read model condition_units [unit_id={shipper}] max_celsius: stored 30")
               for line in lines), lines
    assert len(lines) == 2, lines
