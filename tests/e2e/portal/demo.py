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
from ledger.timefmt import utc_now
from projections.alert_timers import timer_figures
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
    """Nothing left to happen by itself: every alert due now raised (``AlertRaised`` is part of a
    case's trail), every event applied, and a checkpoint covering all of them (signed within ~1 s).

    Without the alerts a timer fired by the background worker after the checkpoint leaves the
    case's newest event outside it, and the case page says "pending" instead of "verified"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if container.alerts is not None:
            container.alerts.catch_up()
        position = container.ledger.last_position()
        assert container.wait_for(position, timeout=max(deadline - time.monotonic(), 0.1))
        with container.engine.connect() as conn:
            leaves = conn.execute(text("SELECT COUNT(*) FROM merkle_leaves")).scalar()
            latest = latest_checkpoint(conn)
            due = timer_figures(conn, utc_now())["due"]  # scheduled or being fired by another worker
        if latest and latest["tree_size"] >= leaves and not due and container.ledger.last_position() == position:
            return
        time.sleep(0.2)
    raise AssertionError("the demo data did not settle: alerts still due, or no checkpoint covers it")
