"""A site named by an event must be registered (``UNKNOWN_SITE``); the executor remembers the
sites it has seen registered in the store, and only those."""

from __future__ import annotations

import pytest

from ledger.domain import registry
from ledger.errors import InvalidEvent
from ledger.services.executor import Context, Step
from ledger.services.journeys import HOSPITAL
from ledger.streams import site_stream

SYSTEM = Context(actor="system")


def _enrol(services, site: str):
    return services.plan.cases.enrol(Context(actor="nurse", site=site), kind="autologous", product="CAR-T",
                                     treating_site=site, mrn="MRN-KNOWN-1")


def test_a_site_registered_by_a_refused_batch_stays_unknown(seeded):
    register = Step(SYSTEM, lambda reads, now, actor: registry.decide_register_site(
        reads.site("clinic-9"), site_id="clinic-9", name="Clinic 9", kind="hospital", actor=actor, now=now))
    with pytest.raises(InvalidEvent) as refused:  # the batch's last step names a site nobody registered
        seeded.executor.run_steps([register, _enrol(seeded, "clinic-9"), _enrol(seeded, "nowhere")], None)
    assert refused.value.code == "UNKNOWN_SITE" and "nowhere" in refused.value.detail
    with pytest.raises(InvalidEvent) as later:  # clinic-9 was seen registered only in that batch
        seeded.executor.run(_enrol(seeded, "clinic-9"))
    assert later.value.code == "UNKNOWN_SITE"


def test_a_site_seen_registered_is_not_read_again(seeded, monkeypatch):
    seeded.executor.run(_enrol(seeded, HOSPITAL))
    reads = []
    original = seeded.executor.ledger.read_stream
    monkeypatch.setattr(seeded.executor.ledger, "read_stream", lambda stream, **kw: reads.append(stream)
                        or original(stream, **kw))
    seeded.executor.run(_enrol(seeded, HOSPITAL))
    assert site_stream(HOSPITAL) not in reads
