"""Demo data for the portal tests: both journeys, a correction and an overdue handover."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from sqlalchemy import text

from ledger.services.executor import Context
from ledger.services.journeys import (
    COURIER_HUB,
    FACTORY,
    run_allogeneic_journey,
    run_autologous_journey,
    seed_identities,
)
from projections.cases_query import case_summary
from projections.checkpoints import latest_checkpoint

CORRECTED_FROM, CORRECTED_TO = "sealed, intact", "sealed, corner dented"


@dataclass
class Demo:
    coi: str
    allogeneic_coi: str
    donor_coi: str
    units: dict[str, UUID]
    patient_refs: list[str]
    mrns: tuple[str, ...] = ("MRN-0042-7781", "MRN-9999-0001", "MRN-A-1001", "MRN-A-1002")


def seed_demo(container) -> Demo:
    services = container.services
    seed_identities(services)
    auto = run_autologous_journey(services)
    shipper = auto.units["shipper"]
    acknowledged = next(e for e in services.ledger.read_stream(shipper)
                        if e.type == "CustodyAcknowledged" and e.envelope["data"].get("condition") == CORRECTED_FROM)
    services.quality.correct(Context(actor="courier", site=COURIER_HUB), stream=shipper,
                             event_id=acknowledged.envelope["event_id"], reason="condition mis-typed at pick-up",
                             changes={"condition": CORRECTED_TO})
    five_hours_ago = (services.quality.clock() - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    services.units.handover(Context(actor="tech", site=FACTORY, occurred_at=five_hours_ago),
                            unit_id=auto.units["spare_product"], to_party="courier", location=FACTORY)
    allo = run_allogeneic_journey(services)
    wait_for_read_models(container)
    refs = []
    with container.engine.connect() as conn:
        for coi in (auto.coi, *allo.extra["patients"]):
            case_id = case_summary(conn, coi)["case_id"]
            refs.append(services.ledger.read_stream(UUID(case_id))[0].envelope["data"]["patient_ref"])
    return Demo(auto.coi, allo.extra["patients"][0], allo.coi, dict(auto.units), refs)


def wait_for_read_models(container, timeout: float = 20.0) -> None:
    """Every event applied, and a checkpoint covering all of them (signed within ~1 s)."""
    position = container.ledger.last_position()
    assert container.wait_for(position, timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with container.engine.connect() as conn:
            leaves = conn.execute(text("SELECT COUNT(*) FROM merkle_leaves")).scalar()
            latest = latest_checkpoint(conn)
        if latest and latest["tree_size"] >= leaves:
            return
        time.sleep(0.2)
    raise AssertionError("no checkpoint covers the demo data")
