"""Needle-to-needle journeys driven only through the decide functions."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from uuid import uuid4

import pytest

from ledger.domain.case import decide_allocate, decide_register_donor
from ledger.domain.conditions import decide_assess_excursion, decide_record_temperatures
from ledger.domain.credentials import unwrap_signing_key
from ledger.domain.custody import (
    decide_acknowledge,
    decide_deliver,
    decide_dispatch,
    decide_handover,
    decide_pack,
    decide_unpack,
)
from ledger.domain.esign import sign_record, verify_record_signature
from ledger.domain.identifiers import issue_unit_label, patient_pseudonym
from ledger.domain.infusion import decide_infuse
from ledger.domain.labelling import decide_collect, decide_scan
from ledger.domain.manufacturing import (
    DerivedOutput,
    decide_derive,
    decide_record_qc,
    decide_release,
)
from ledger.errors import RuleViolation

from .conftest import MRN, OTHER_MRN, PASSWORD, PATIENT_DOB, PATIENT_NAME, SECRET, Ledger

FRESH = {"min_celsius": 2, "max_celsius": 8}
FROZEN = {"min_celsius": -196, "max_celsius": -150, "qc_required": ["sterility", "viability"]}


def readings(start, temps, step=timedelta(minutes=10)):
    return [{"t": start + i * step, "celsius": c} for i, c in enumerate(temps)]


def test_autologous_needle_to_needle(staffed: Ledger) -> None:
    led = staffed
    case = led.enrol()
    coi = led.case(case).coi
    patient_ref = patient_pseudonym(SECRET, MRN)

    bag = led.label(case, "apheresis_bag", spec={**FRESH, "expiry": led.now + timedelta(days=3)},
                    identifiers={"isbt_din": "A999917123456"})
    shipper = led.label(case, "shipper", identifiers={"sscc": "106141411234567897"})
    led.run(decide_collect, led.case(case), led.unit(bag), patient_ref=patient_ref,
            material="leukapheresis", collection_site="HOSP-1", volume_ml=212.5, actor="nurse")
    led.run(decide_scan, led.unit(bag), purpose="pack", case=led.case(case),
            actor="nurse")
    assert led.streams[bag][-1]["data"]["verdict"] == "match"

    led.tick(minutes=30)
    led.run(decide_pack, led.unit(bag), led.unit(shipper), actor="nurse")
    led.run(decide_handover, led.unit(shipper), "courier.kim", contents=[led.unit(bag)],
            location="HOSP-1", condition="sealed, logger running", actor="nurse")
    with pytest.raises(RuleViolation) as err:  # the bag moves only with its shipper
        led.run(decide_handover, led.unit(bag), "courier.kim", actor="nurse")
    assert err.value.code == "PACKED_IN_CONTAINER"
    led.run(decide_acknowledge, led.unit(shipper), contents=[led.unit(bag)], actor="courier.kim")
    assert led.unit(bag).custodian == "courier.kim"
    led.run(decide_dispatch, led.unit(shipper), carrier="ColdChain", tracking="CC123",
            from_site="HOSP-1", to_site="MFG-1", contents=[led.unit(bag)], actor="courier.kim")

    packed_at = led.now
    led.tick(hours=2)
    temps = [5.0, 5.5, 6.0, 9.25, 9.5, 8.75, 6.0, 5.0]  # 30 minutes above 8 °C
    led.run(decide_record_temperatures, led.unit(shipper), logger="LOG-7",
            readings=readings(packed_at + timedelta(minutes=5), temps),
            contents=[led.unit(bag)], actor="courier.kim")
    (excursion,) = led.unit(bag).excursions
    assert (excursion.max_celsius, excursion.decision) == (9.5, None)
    assert excursion.end - excursion.start == timedelta(minutes=30)

    led.run(decide_deliver, led.unit(shipper), tracking="CC123", contents=[led.unit(bag)],
            actor="courier.kim")
    led.run(decide_handover, led.unit(shipper), "mfg.op", contents=[led.unit(bag)],
            actor="courier.kim")
    led.run(decide_acknowledge, led.unit(shipper), contents=[led.unit(bag)], actor="mfg.op")
    led.run(decide_unpack, led.unit(bag), led.unit(shipper), actor="mfg.op")

    doses = [uuid4(), uuid4()]
    led.run(decide_derive, led.case(case), [led.unit(bag)],
            [DerivedOutput(d, "final_product_bag", issue_unit_label(led.rng),
                           spec={**FROZEN, "expiry": led.now + timedelta(days=300)})
             for d in doses], process="CAR-T manufacturing", batch="B-0042", actor="mfg.op")
    final = doses[0]
    assert led.unit(final).parents == (bag,) and led.unit(bag).consumed
    led.run(decide_record_qc, led.unit(final), test="sterility", result="pass", actor="lab")
    led.run(decide_record_qc, led.unit(final), test="viability", result="pass", value=92.5,
            uom="percent", actor="lab")

    release = dict(case=led.case(case), ancestors=[led.unit(bag)], actor="qa.quinn")
    with pytest.raises(RuleViolation) as err:
        led.run(decide_release, led.unit(final), esign=led.sign("qa.quinn", "released"),
                signer=led.user("qa.quinn"), review=led.signed_review(final), **release)
    assert err.value.code == "EXCURSION_UNASSESSED"
    led.run(decide_assess_excursion, led.unit(bag), excursion.id, "use",
            "30 min at max 9.5 °C is within the stability data", actor="qa.quinn",
            esign=led.sign("qa.quinn", "assessed"), signer=led.user("qa.quinn"))
    release["ancestors"] = [led.unit(bag)]
    manifestation = led.sign("qa.quinn", "released")
    (released,) = led.run(decide_release, led.unit(final), esign=manifestation,
                          signer=led.user("qa.quinn"), review=led.signed_review(final), **release)
    assert released["esign"]["meaning"] == "released"

    # The core signs SHA-256(JCS(envelope without esign.signature)); a stand-in digest here.
    unsigned = {**released, "esign": manifestation.as_esign()}
    digest = hashlib.sha256(json.dumps(unsigned, sort_keys=True).encode()).digest()
    signature = sign_record(unwrap_signing_key(led.wrapped["qa.quinn"], PASSWORD), digest)
    public = led.user("qa.quinn").keys[-1].public_key
    assert verify_record_signature(public, digest, signature)

    bedside = dict(bag_coi=coi, esign=led.sign("dr.chen", "administered"),
                   signer=led.user("dr.chen"), actor="dr.chen")
    with pytest.raises(RuleViolation) as err:
        led.run(decide_infuse, led.case(case), led.unit(final),
                wristband_patient_ref=patient_pseudonym(SECRET, OTHER_MRN), **bedside)
    assert err.value.code == "COI_MISMATCH"
    assert led.types(case)[-1] == "OperationRefused"
    assert led.streams[case][-1]["data"]["code"] == "COI_MISMATCH"

    (infused,) = led.run(decide_infuse, led.case(case), led.unit(final),
                         wristband_patient_ref=patient_ref, **bedside)
    assert infused["type"] == "ProductInfused" and led.unit(final).infused

    everything = led.dump()
    for secret in (MRN, OTHER_MRN, PATIENT_NAME, PATIENT_DOB):
        assert secret not in everything


def test_allogeneic_one_donor_many_patients(staffed: Ledger) -> None:
    led = staffed
    donor = uuid4()
    led.run(decide_register_donor, led.case(donor), case_id=donor, product="allo-T",
            collection_site="DONOR-CTR", site_secret=SECRET, donor_id="DONOR-0815",
            din="A999917123456", rng=led.rng, actor="coordinator")
    donor_ref = patient_pseudonym(SECRET, "DONOR-0815")
    collections = []
    for _ in range(2):
        bag = led.label(donor, "apheresis_bag", spec=FRESH, actor="mfg.op")
        led.run(decide_collect, led.case(donor), led.unit(bag), patient_ref=donor_ref,
                material="leukapheresis", collection_site="DONOR-CTR", actor="nurse")
        collections.append(bag)

    pool = uuid4()
    led.run(decide_derive, led.case(donor), [led.unit(b) for b in collections],
            [DerivedOutput(pool, "cryobag", issue_unit_label(led.rng))], process="pool",
            actor="mfg.op")
    doses = [uuid4() for _ in range(3)]
    led.run(decide_derive, led.case(donor), [led.unit(pool)],
            [DerivedOutput(d, "final_product_bag", issue_unit_label(led.rng), spec=FROZEN)
             for d in doses], process="split", actor="mfg.op")
    for test in ("sterility", "viability"):  # lot QC on the pool counts for every dose
        led.run(decide_record_qc, led.unit(pool), test=test, result="pass", actor="lab")
    ancestors = [led.unit(u) for u in (pool, *collections)]
    for dose in doses:
        led.run(decide_release, led.unit(dose), case=led.case(donor), ancestors=ancestors,
                review=led.signed_review(dose), esign=led.sign("qa.quinn", "released"), signer=led.user("qa.quinn"),
                actor="qa.quinn")

    mrns = ["MRN-A1", "MRN-B2", "MRN-C3"]
    patients = [led.enrol("allogeneic", mrn) for mrn in mrns]
    for patient, dose in zip(patients, doses, strict=True):
        led.run(decide_allocate, led.case(patient), led.case(donor), led.unit(dose),
                actor="pharmacist")
    with pytest.raises(RuleViolation) as err:
        led.run(decide_allocate, led.case(patients[0]), led.case(donor), led.unit(doses[1]),
                actor="pharmacist")
    assert err.value.code == "ALREADY_ALLOCATED"

    donor_coi = led.case(donor).coi
    with pytest.raises(RuleViolation) as err:  # patient B's dose at patient A's bedside
        led.run(decide_infuse, led.case(patients[0]), led.unit(doses[1]),
                wristband_patient_ref=patient_pseudonym(SECRET, mrns[0]), bag_coi=donor_coi,
                esign=led.sign("dr.chen", "administered"), signer=led.user("dr.chen"),
                actor="dr.chen")
    assert err.value.code == "COI_MISMATCH"
    assert led.types(patients[0])[-1] == "OperationRefused"

    for patient, dose, mrn in zip(patients, doses, mrns, strict=True):
        led.run(decide_infuse, led.case(patient), led.unit(dose),
                wristband_patient_ref=patient_pseudonym(SECRET, mrn), bag_coi=donor_coi,
                esign=led.sign("dr.chen", "administered"), signer=led.user("dr.chen"),
                actor="dr.chen")
        assert led.unit(dose).infused
    everything = led.dump()
    assert not any(m in everything for m in [*mrns, "DONOR-0815"])
