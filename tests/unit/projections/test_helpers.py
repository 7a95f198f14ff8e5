"""Pure helpers of the read models: cursors, times, pseudonym scrubbing, CSV cells, texts."""

from __future__ import annotations

import pytest

from projections.audit_query import render_signature, safe_cell
from projections.audit_text import detail, what, why
from projections.common import (
    InvalidCursor,
    decode_cursor,
    encode_cursor,
    from_micros,
    micros,
    scrub,
)
from projections.conditions_query import _downsample

REF = "ab" * 32


@pytest.mark.parametrize("position", [0, 1, 41, 2**40])
def test_cursor_round_trip(position: int) -> None:
    assert decode_cursor(encode_cursor(position)) == position


@pytest.mark.parametrize("bad", ["x", "cDotMQ", "!!!", "cTox"])
def test_foreign_cursors_are_refused(bad: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(bad)


def test_times_round_trip_exactly() -> None:
    text = "2026-03-02T08:00:00.123456Z"
    assert from_micros(micros(text)) == text
    assert micros("2026-03-02T09:00:00+01:00") == micros("2026-03-02T08:00:00Z")


def test_pseudonyms_never_kept() -> None:
    data = {"patient_ref": REF, "attempted": {"patient_ref": REF, "coi": "C"}, "x": [{"donor_ref": REF}]}
    assert REF not in str(scrub(data)) and scrub(data)["attempted"]["coi"] == "C"
    assert REF not in str(detail("OperationRefused", data))


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_defused(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell


def test_plain_cells_untouched() -> None:
    assert safe_cell("COI-1") == "COI-1" and safe_cell(None) == "" and safe_cell(5) == "5"


def test_signature_rendering_shows_name_time_meaning() -> None:
    text = render_signature({"signer": "qa", "printed_name": "Q A", "signed_at": "2026-01-01T00:00:00Z",
                             "meaning": "released"})
    assert text == "Q A (qa), 2026-01-01T00:00:00Z, released"
    assert render_signature(None) == ""


def test_what_and_why() -> None:
    assert what("CaseOnHold", {"reason": "x"}) == "case put on hold"
    assert why("CaseOnHold", {"reason": "awaiting slot"}) == "awaiting slot"
    assert why("OperationRefused", {"code": "COI_MISMATCH", "detail": "d"}) == "COI_MISMATCH: d"
    assert what("SomethingNew", {}) == "SomethingNew"
    assert what("PackedInto", {}) == "PackedInto"  # missing fields: the type still says what
    container = "0b0d7d3e-6a8c-4c2e-9d53-1f0c8c0b7a11"
    moved = what("CustodyTransferred", {"from_party": "a", "to_party": "b", "via_container": container})
    assert moved == f"handover offered a -> b (moved with container {container})"


def test_readings_summarised_in_the_trail() -> None:
    kept = detail("TemperatureRecorded", {"logger": "L", "readings": [
        {"t": "2026-01-01T00:00:00Z", "celsius": 4}, {"t": "2026-01-01T00:01:00Z", "celsius": 9}]})
    assert "readings" not in kept
    assert kept["readings_summary"] == {"count": 2, "first": "2026-01-01T00:00:00Z",
                                        "last": "2026-01-01T00:01:00Z", "min_celsius": 4,
                                        "max_celsius": 9}


def test_downsampling_keeps_peaks_and_bound() -> None:
    points = [(i, 5.0 if i != 517 else 30.0, "s", "l") for i in range(10_000)]
    small = _downsample(points, 100)
    assert len(small) <= 100 and (517, 30.0, "s", "l") in small
    assert [p[0] for p in small] == sorted(p[0] for p in small)
    assert _downsample(points[:10], 100) == points[:10]
