from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.conditions import (
    decide_assess_excursion,
    decide_record_temperatures,
    detect_excursions,
    record_temperatures,
)
from ledger.domain.custody import decide_pack, decide_unpack
from ledger.domain.events_quality import MAX_READINGS
from ledger.domain.manufacturing import decide_dispose
from ledger.errors import InvalidEvent, RuleViolation

from .conftest import Ledger

T = datetime(2026, 1, 1, tzinfo=UTC)
MIN = timedelta(minutes=1)


def series(temps, start=T, step=MIN):
    return [(start + i * step, c) for i, c in enumerate(temps)]


def test_detect_excursions_bounds_are_inclusive() -> None:
    found = detect_excursions(series([5, 8, 8.01, 9, 7, 2, 1.99, 5]), min_celsius=2,
                              max_celsius=8)
    assert [(f.start, f.end, f.min_celsius, f.max_celsius, f.readings, f.ongoing)
            for f in found] == [
        (T + 2 * MIN, T + 4 * MIN, 8.01, 9, 2, False),
        (T + 6 * MIN, T + 7 * MIN, 1.99, 1.99, 1, False),
    ]
    assert found[0].duration == 2 * MIN


def test_an_excursion_lasting_to_the_end_is_ongoing() -> None:
    (found,) = detect_excursions(series([5, -1, -2]), min_celsius=2, max_celsius=None)
    assert found.ongoing and found.end == T + 2 * MIN and found.min_celsius == -2
    assert detect_excursions(series([100]), min_celsius=None, max_celsius=None) == []


temps = st.lists(st.integers(-500, 500).map(lambda n: n / 100), min_size=1, max_size=60)


@given(temps, st.integers(-200, 200).map(lambda n: n / 100), st.integers(0, 400))
def test_every_reading_out_of_range_is_in_exactly_one_excursion(readings, low, width) -> None:
    high = low + width / 100
    points = series(readings)
    found = detect_excursions(points, min_celsius=low, max_celsius=high)
    out = [t for t, c in points if c < low or c > high]
    covered = [t for t, c in points for f in found
               if f.start <= t and (t < f.end or (f.ongoing and t == f.end))]
    assert sorted(covered) == out
    assert sum(f.readings for f in found) == len(out)
    for f in found:
        assert f.start <= f.end and f.min_celsius <= f.max_celsius


@pytest.fixture
def cold(ledger: Ledger):
    case = ledger.enrol()
    bag = ledger.label(case, "apheresis_bag", spec={"min_celsius": 2, "max_celsius": 8},
                       actor="nurse")
    shipper = ledger.label(case, "shipper", actor="nurse")
    return ledger, bag, shipper


def upload(led: Ledger, unit, temps, start, contents=(), logger="LOG-1"):
    return led.run(decide_record_temperatures, led.unit(unit), logger=logger,
                   readings=[{"t": t, "celsius": c} for t, c in series(temps, start)],
                   contents=[led.unit(c) for c in contents], actor="courier")


def test_own_readings_reveal_excursions_once(cold) -> None:
    led, bag, _ = cold
    led.tick(hours=1)
    start = led.now - 10 * MIN
    events = upload(led, bag, [5, 9, 5], start)
    assert [e["type"] for e in events] == ["TemperatureRecorded", "ExcursionDetected"]
    assert events[1]["data"]["duration_s"] == 60 and events[1]["data"]["limit_max"] == 8
    again = upload(led, bag, [5, 9, 5], start)  # the same file uploaded twice
    assert [e["type"] for e in again] == ["TemperatureRecorded"]
    assert len(led.unit(bag).excursions) == 1


def test_container_readings_apply_to_what_was_inside_then(cold) -> None:
    led, bag, shipper = cold
    before = led.now
    led.tick(minutes=10)
    led.run(decide_pack, led.unit(bag), led.unit(shipper), actor="nurse")
    led.tick(minutes=10)
    led.run(decide_unpack, led.unit(bag), led.unit(shipper), actor="nurse")
    led.tick(minutes=30)
    # 12 °C before packing, 12 °C while packed, 12 °C after unpacking: only the middle counts
    temps = [12] + [5] * 9 + [5, 5, 12, 12, 5] + [5] * 6 + [12, 5]
    with pytest.raises(ValueError):
        upload(led, shipper, temps, before)
    events = upload(led, shipper, temps, before, contents=[bag])
    detected = [e for e in events if e["type"] == "ExcursionDetected"]
    assert [(e["stream"], e["data"]["source"]) for e in detected] == [(str(bag), str(shipper))]
    assert detected[0]["data"]["start"] == (before + 12 * MIN).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_upload_validation(cold) -> None:
    led, bag, _ = cold

    def invalid(readings) -> str:
        with pytest.raises(InvalidEvent) as err:
            decide_record_temperatures(led.unit(bag), logger="L", readings=readings,
                                       actor="c", now=led.now)
        return err.value.code

    assert invalid([]) == "INVALID_DATA"
    assert invalid([{"t": T + MIN, "celsius": 5}, {"t": T, "celsius": 5}]) == "INVALID_DATA"
    assert invalid([{"t": T, "celsius": 5.123}]) == "INVALID_DATA"
    assert invalid([{"t": "2026-01-01T00:00:00", "celsius": 5}]) == "TIMEZONE_REQUIRED"
    too_many = [{"t": T + i * MIN, "celsius": 5} for i in range(MAX_READINGS + 1)]
    assert invalid(too_many) == "INVALID_DATA"
    with pytest.raises(RuleViolation) as err:
        upload(led, bag, [5], led.now + timedelta(minutes=6))
    assert err.value.code == "READING_IN_FUTURE"
    upload(led, bag, [5], led.now + timedelta(minutes=4))  # within the clock skew
    led.run(decide_dispose, led.unit(bag), "spilled", actor="nurse")
    with pytest.raises(RuleViolation) as err:
        upload(led, bag, [5], led.now - MIN)
    assert err.value.code == "UNIT_DISPOSED"


def test_assessment_rules(staffed: Ledger) -> None:
    led = staffed
    case = led.enrol()
    bag = led.label(case, "apheresis_bag", spec={"min_celsius": 2, "max_celsius": 8})
    led.tick(hours=1)
    upload(led, bag, [5, 9, 5], led.now - 10 * MIN)
    (x,) = led.unit(bag).excursions

    def assess(excursion, signer="qa.quinn", meaning="assessed", rationale="within stability"):
        return led.run(decide_assess_excursion, led.unit(bag), excursion, "use", rationale,
                       esign=led.sign(signer, meaning) if meaning else None,
                       signer=led.user(signer), actor=signer)

    def code(*args, **kwargs) -> str:
        with pytest.raises(RuleViolation) as err:
            assess(*args, **kwargs)
        return err.value.code

    assert code(uuid4()) == "UNKNOWN_EXCURSION"
    assert code(x.id, rationale=" ") == "REASON_REQUIRED"
    assert code(x.id, meaning=None) == "ESIGNATURE_REQUIRED"
    assert code(x.id, meaning="reviewed") == "WRONG_SIGNATURE_MEANING"
    assert code(x.id, signer="courier.kim") == "SIGNER_NOT_AUTHORISED"
    (event,) = assess(x.id)
    assert event["esign"]["meaning"] == "assessed"
    assert led.unit(bag).excursions[0].decision == "use"
    assert code(x.id) == "ALREADY_ASSESSED"


def test_the_upload_reports_what_applied_to_whom(cold) -> None:
    """Readings before packing are counted as not applied, never dropped silently; a unit without
    a range of its own is checked against the container's."""
    led, bag, shipper = cold
    case = led.unit(bag).case
    bare = led.label(case, "sample", actor="nurse")
    before = led.now
    led.tick(minutes=5)
    led.run(decide_pack, led.unit(bag), led.unit(shipper), actor="nurse")
    led.run(decide_pack, led.unit(bare), led.unit(shipper), contents=[led.unit(bag)], actor="nurse")
    led.tick(minutes=20)
    # 9.6 °C before packing (not applied), then 9.6 °C while packed
    temps = [9.6, 9.6, 5, 5] + [5] * 6 + [9.6, 9.6, 5]
    events, report = record_temperatures(
        led.unit(shipper), logger="LOG-1", readings=[{"t": t, "celsius": c} for t, c in series(temps, before)],
        contents=[led.unit(bag), led.unit(bare)], actor="courier", now=led.now)
    assert (report["readings"], report["excursions_detected"], report["excursions_opened"]) == (13, 2, 2)
    logged, in_bag, in_bare = report["units"]
    assert (logged["unit_id"], logged["readings_applied"], logged["limits"]["source"]) == (str(shipper), 13, "contents")
    assert logged["readings_checked"] == 0  # checked on the units inside
    for entry in (in_bag, in_bare):
        assert (entry["readings_applied"], entry["not_applied"]) == (8, {"before_packing": 5, "after_unpacking": 0})
        assert entry["excursions_opened"] == 1
    assert in_bag["limits"] == {"min_celsius": 2, "max_celsius": 8, "source": "own"}
    assert in_bare["limits"] == {"min_celsius": 2, "max_celsius": 8, "source": "container"}
    assert sorted(str(e.stream) for e in events if e.type == "ExcursionDetected") == sorted(
        str(u) for u in (bag, bare))
