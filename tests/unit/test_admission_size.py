"""An event's data is measured as its canonical bytes (``MAX_EVENT_BYTES``) without writing JCS
for ordinary events (``ledger.store.admission._canonical_size``)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.envelope import canonical
from ledger.errors import InvalidEvent
from ledger.store.admission import MAX_EVENT_BYTES, _canonical_size

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1), st.text(max_size=40),
                    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e30, max_value=1e30))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(values, st.integers(0, MAX_EVENT_BYTES + 64))
def test_over_the_limit_exactly_when_the_canonical_bytes_are(value, padding):
    data = {"pad": "x" * padding, "value": value}
    assert (_canonical_size(data) > MAX_EVENT_BYTES) == (len(canonical(data)) > MAX_EVENT_BYTES)


def test_what_the_fast_writer_refuses_is_measured_by_the_reference():
    with pytest.raises(InvalidEvent):
        _canonical_size({"n": 2**70})  # beyond 64 bits: and beyond what JSON carries exactly
