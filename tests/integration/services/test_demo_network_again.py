"""The demo network built a second time (`ledger demo` run again) appends nothing: profiles, lanes
and capacity the ledger already has are refused as ``NO_CHANGE`` and passed over."""

from __future__ import annotations

from datetime import UTC, datetime

from ledger.services.network_demo import build_demo_network


def test_building_the_network_again_appends_nothing(seeded) -> None:
    today = datetime.now(UTC).date()
    build_demo_network(seeded, today, days=7)
    built = seeded.ledger.last_position()
    kinds = {e.type for _, e in seeded.ledger.read_log(after=0, limit=built)}  # what the first build wrote
    assert {"SiteProfileSet", "LaneDefined", "CapacityDeclared"} <= kinds
    build_demo_network(seeded, today, days=7)
    assert seeded.ledger.last_position() == built
