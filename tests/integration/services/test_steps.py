"""Commands as explicit steps: time and actor from the executor, batches, idempotent replays."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

from ledger.domain.identifiers import issue_unit_label
from ledger.services.executor import Context, Step
from ledger.services.journeys import HOSPITAL
from ledger.store.application import Claim
from ledger.streams import case_stream, unit_stream


def test_a_concurrent_retry_that_wins_the_claim_answers_both_requests_alike(seeded):
    """Two deliveries of one request (same Idempotency-Key) decide at once: one appends, the
    other must answer with what was stored (replayed), not with a COI it never appended."""
    claim = Claim("nurse\x00key-1", "digest-1")
    both_decided = threading.Barrier(2, timeout=10)

    def delivery() -> Step:
        step = seeded.plan.cases.enrol(Context(actor="nurse", site=HOSPITAL, claim=claim), kind="autologous",
                                       product="CAR-T", treating_site=HOSPITAL, mrn="MRN-0001")

        def decide(reads, now, actor):
            events = step.decide(reads, now, actor)
            both_decided.wait()  # both passed the replay check before either appends
            return events

        return replace(step, decide=decide)

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(seeded.executor.run, [delivery(), delivery()]))
    assert sorted(o.result.replayed for o in outcomes) == [False, True]
    first, again = sorted(outcomes, key=lambda o: o.result.replayed)
    assert again.result.answer == first.result.answer
    assert again.result.receipts == first.result.receipts
    assert seeded.reads().case(case_stream(again.result.answer["coi"])).version == 1


def test_a_batch_is_a_list_of_steps_decided_in_order_at_their_own_times(seeded):
    backfilled = "2020-01-05T10:00:00Z"
    nurse = Context(actor="nurse", site=HOSPITAL, occurred_at=backfilled, may_backfill=True,
                    backfill_reason="paper record")
    enrol = seeded.plan.cases.enrol(nurse, kind="autologous", product="CAR-T", treating_site=HOSPITAL,
                                    mrn="MRN-0002")
    assert isinstance(enrol, Step) and not enrol.at_event_time
    coi = seeded.executor.run(enrol).result.answer["coi"]
    planned = issue_unit_label()
    label = seeded.plan.units.label(nurse, coi=coi, kind="apheresis_bag", label=planned)
    scan = seeded.plan.units.scan(nurse, unit_id=unit_stream(planned), raw=planned, purpose="verify",
                                  expected_coi=coi)
    assert scan.at_event_time and not label.at_event_time
    seen: list[tuple[datetime, str]] = []

    def noted(step: Step) -> Step:
        return replace(step, decide=lambda r, now, actor: seen.append((now, actor)) or step.decide(r, now, actor))

    labelled, scanned = seeded.executor.run_steps([noted(label), noted(scan)], None)
    assert labelled.events and scanned.events
    assert seen[0][0] > datetime(2024, 1, 1, tzinfo=UTC) and seen[0][1] == "nurse"  # the server's clock
    assert seen[1] == (datetime(2020, 1, 5, 10, tzinfo=UTC), "nurse")  # when the scan happened
    assert scanned.events[0].data["verdict"] == "match"  # decided after the labelling in the batch
