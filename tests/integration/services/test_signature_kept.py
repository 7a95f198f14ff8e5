"""21 CFR 11.70 at the executor, whatever the caller: the signature a step carries
(``Context.signoff``) is kept on the step's record that takes it, or the step is refused before
anything is written; it is never dropped."""

from __future__ import annotations

from uuid import UUID

import pytest

from ledger.errors import Forbidden, InvalidEvent
from ledger.services.executor import Context
from ledger.services.journeys import DEMO_PASSWORD, HOSPITAL


def _signoff(services, user: str, meaning: str):
    return services.identity.signoff(user_id=user, password=DEMO_PASSWORD, meaning=meaning)


def test_a_signature_on_a_type_that_takes_none_is_refused_and_nothing_is_written(seeded, domain_ledger):
    coi = seeded.cases.enrol(Context(actor="nurse", site=HOSPITAL), kind="autologous", product="CAR-T",
                             treating_site=HOSPITAL, mrn="MRN-S-0").result.answer["coi"]
    ctx = Context(actor="nurse", site=HOSPITAL, signoff=_signoff(seeded, "nurse", "authored"))
    before = domain_ledger.last_position()
    with pytest.raises(InvalidEvent) as refused:  # UnitScanned: a verification record, never e-signed
        seeded.units.scan(ctx, unit_id=None, raw="anything", purpose="verify", expected_coi=coi)
    assert refused.value.code == "SIGNATURE_NOT_ACCEPTED"
    assert domain_ledger.last_position() == before
    assert seeded.units.scan(Context(actor="nurse", site=HOSPITAL), unit_id=None, raw="anything",
                             purpose="verify", expected_coi=coi).result.receipts  # unsigned, it is recorded


def test_a_signature_is_kept_on_a_step_whose_method_takes_none_of_its_own(seeded, domain_ledger):
    """The enrolment method has no ``signoff`` parameter: the context's signature is kept anyway."""
    signed = Context(actor="nurse", site=HOSPITAL, signoff=_signoff(seeded, "nurse", "authored"))
    outcome = seeded.cases.enrol(signed, kind="autologous", product="CAR-T", treating_site=HOSPITAL,
                                 mrn="MRN-S-1")
    receipt = outcome.result.receipts[0]
    envelope = domain_ledger.read_stream(UUID(str(receipt.stream)))[0].envelope
    assert envelope["type"] == "CaseEnrolled"
    assert envelope["esign"]["signer"] == "nurse" and envelope["esign"]["meaning"] == "authored"


def test_a_signature_by_someone_else_than_the_actor_or_the_person_acted_for_is_refused(seeded, domain_ledger):
    ctx = Context(actor="nurse", site=HOSPITAL, signoff=_signoff(seeded, "clinician", "authored"))
    before = domain_ledger.last_position()
    with pytest.raises(Forbidden) as refused:
        seeded.cases.enrol(ctx, kind="autologous", product="CAR-T", treating_site=HOSPITAL, mrn="MRN-S-2")
    assert refused.value.code == "SIGNER_NOT_AUTHORISED"
    assert domain_ledger.last_position() == before
