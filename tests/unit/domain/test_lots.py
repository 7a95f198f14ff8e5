"""Manufacturing in stages: start (inputs checked then), steps, fill days later."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from ledger.domain.conditions import decide_assess_excursion, decide_record_temperatures
from ledger.domain.identifiers import issue_unit_label, patient_pseudonym
from ledger.domain.labelling import decide_collect
from ledger.domain.lots import decide_fill, decide_start, decide_step
from ledger.domain.manufacturing import (
    DerivedOutput,
    decide_quarantine,
    decide_record_qc,
    decide_release,
    decide_release_from_quarantine,
)
from ledger.domain.registry import SiteState
from ledger.errors import RuleViolation
from ledger.streams import lot_stream
from ledger.timefmt import format_utc

from .conftest import MRN, OTHER_MRN, SECRET, Ledger

FACTORY = SiteState(version=1, site_id="factory-1", name="Plant", kind="manufacturing")
HOSPITAL = SiteState(version=1, site_id="hospital-1", name="Hospital", kind="hospital")
PRODUCT = {"min_celsius": -196, "max_celsius": -150, "qc_required": ["sterility"]}


def bag_expiring(led: Ledger, case, hours: float, mrn=MRN):
    expiry = format_utc(led.now + timedelta(hours=hours))
    bag = led.label(case, "apheresis_bag", actor="tech",
                    spec={"min_celsius": 2, "max_celsius": 8, "expiry": expiry})
    led.run(decide_collect, led.case(case), led.unit(bag), patient_ref=patient_pseudonym(
        SECRET, mrn), material="leukapheresis", collection_site="H", actor="nurse")
    return bag


def start(led: Ledger, case, inputs, lot="LOT-1", site=FACTORY, actor="tech"):
    coi = led.case(case).coi
    lot_id = lot_stream(coi, lot)
    led.run(decide_start, led.case(case), led.unit(lot_id), [led.unit(i) for i in inputs],
            lot_id=lot_id, lot_number=lot, process="transduction-expansion", site=site, actor=actor)
    return lot_id


def fill(led: Ledger, case, lot="LOT-1", n=1, site="factory-1"):
    outs = [uuid4() for _ in range(n)]
    led.run(decide_fill, led.case(case), led.unit(lot_stream(led.case(case).coi, lot)),
            [DerivedOutput(o, "final_product_bag", issue_unit_label(led.rng), spec=PRODUCT)
             for o in outs], lot_number=lot, site=site, actor="tech")
    return outs


def refused(decide, *args, **kwargs) -> str:
    with pytest.raises(RuleViolation) as err:
        decide(*args, **kwargs)
    return err.value.code


def test_fill_nine_days_after_start_is_not_refused_for_the_inputs_expiry(ledger: Ledger) -> None:
    led = ledger
    case = led.enrol()
    bag = bag_expiring(led, case, hours=72)
    led.tick(hours=30)
    lot = start(led, case, [bag])
    assert led.unit(bag).consumed and led.unit(bag).derived_into == (lot,)
    state = led.unit(lot)
    assert (state.kind, state.label, state.parents, state.location) == ("lot", "LOT-1", (bag,),
                                                                        "factory-1")
    for stage in ("activation", "transduction", "expansion", "harvest"):
        led.tick(days=2)
        led.run(decide_step, led.case(case), led.unit(lot), lot_number="LOT-1", stage=stage,
                site="factory-1", actor="tech")
    led.tick(days=1)
    assert led.unit(bag).expired(led.now)  # the bag's 72 h are long gone
    product, spare = fill(led, case, n=2)
    labelled = led.streams[product][0]
    assert labelled["type"] == "UnitLabelled" and labelled["recorded_at"] == format_utc(led.now)
    assert labelled["data"]["parents"] == [str(lot)]
    assert labelled["data"]["identifiers"]["lot"] == "LOT-1"
    assert led.types(lot) == ["ManufacturingStarted", *["ManufacturingStepRecorded"] * 4,
                              "ProductFilled"]
    assert led.unit(lot).stages == ("activation", "transduction", "expansion", "harvest")
    assert led.unit(lot).derived_into == (product, spare) and led.unit(lot).consumed
    assert refused(fill, led, case) == "UNIT_CONSUMED"  # a lot is filled once


def test_start_with_an_expired_input_is_refused(ledger: Ledger) -> None:
    led = ledger
    case = led.enrol()
    bag = bag_expiring(led, case, hours=72)
    led.tick(hours=73)
    assert refused(start, led, case, [bag]) == "UNIT_EXPIRED"
    assert not led.unit(bag).consumed and led.streams[lot_stream(led.case(case).coi, "LOT-1")] == []


def test_fill_or_step_without_start_is_refused(ledger: Ledger) -> None:
    led = ledger
    case = led.enrol()
    assert refused(fill, led, case) == "LOT_NOT_STARTED"
    lot = lot_stream(led.case(case).coi, "LOT-9")
    assert refused(led.run, decide_step, led.case(case), led.unit(lot), lot_number="LOT-9",
                   stage="expansion", site="factory-1", actor="tech") == "LOT_NOT_STARTED"
    bag = bag_expiring(led, case, hours=72)
    start(led, case, [bag], lot="LOT-1")
    assert refused(fill, led, case, lot="LOT-2") == "LOT_NOT_STARTED"  # another lot number


def test_start_rules(ledger: Ledger) -> None:
    led = ledger
    case, other = led.enrol(), led.enrol(mrn=OTHER_MRN)
    bag, foreign = bag_expiring(led, case, 72), bag_expiring(led, other, 72, OTHER_MRN)
    assert refused(start, led, case, [bag], site=HOSPITAL) == "NOT_A_MANUFACTURING_SITE"
    assert refused(start, led, case, [bag], site=None) == "NOT_A_MANUFACTURING_SITE"
    assert refused(start, led, case, [bag, foreign]) == "COI_MISMATCH"
    assert led.types(case)[-1] == led.types(other)[-1] == "OperationRefused"
    assert refused(start, led, case, [bag], actor="someone") == "NOT_CUSTODIAN"
    lot = start(led, case, [bag])
    second = bag_expiring(led, case, 72)
    assert refused(start, led, case, [second]) == "LOT_EXISTS"
    assert refused(start, led, case, [bag], lot="LOT-2") == "UNIT_CONSUMED"
    assert refused(fill, led, case, site="factory-2") == "LOT_AT_OTHER_SITE"
    led.run(decide_quarantine, led.unit(lot), "bioburden alert", actor="qa")
    assert refused(fill, led, case) == "UNIT_QUARANTINED"
    led.run(decide_release_from_quarantine, led.unit(lot), "investigated", actor="qa")
    assert fill(led, case)


def test_release_sees_the_bags_through_the_lot(staffed: Ledger) -> None:
    """An unassessed excursion on the input bag blocks release of the product filled from it."""
    led = staffed
    case = led.enrol()
    bag = bag_expiring(led, case, 72)
    led.run(decide_record_temperatures, led.unit(bag), logger="L1", readings=[
        {"t": format_utc(led.now - timedelta(minutes=2 - i)), "celsius": c}
        for i, c in enumerate((4.0, 9.5, 4.0))], contents=[], actor="tech")
    lot = start(led, case, [bag])
    led.tick(days=9)
    (product,) = fill(led, case)
    led.run(decide_record_qc, led.unit(product), test="sterility", result="pass", actor="tech")

    def release():
        unit = led.unit(product)
        led.run(decide_release, unit, case=led.case(case), ancestors=[led.unit(lot), led.unit(bag)],
                review=led.signed_review(product), notes=None, esign=led.sign("qa.quinn", "released"),
                signer=led.user("qa.quinn"),
                actor="qa.quinn")

    assert refused(release) == "EXCURSION_UNASSESSED"
    excursion = led.unit(bag).excursions[0].id
    led.run(decide_assess_excursion, led.unit(bag), excursion, "use", "short", actor="qa.quinn",
            esign=led.sign("qa.quinn", "assessed"), signer=led.user("qa.quinn"))
    release()
    assert led.unit(product).released
