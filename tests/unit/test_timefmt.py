"""The one text form of a time (``ledger.timefmt.format_utc``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidEvent
from ledger.timefmt import format_utc

zones = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda minutes: timezone(timedelta(minutes=minutes)))
moments = st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones)


@given(moments)
def test_the_fixed_form_is_the_utc_time_with_six_decimals_and_a_z(moment):
    assert format_utc(moment) == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.parametrize("moment", [datetime(999, 12, 31, 23, 0, tzinfo=UTC), datetime(2026, 1, 1)])
def test_what_the_form_cannot_carry_is_refused(moment):
    with pytest.raises(InvalidEvent):
        format_utc(moment)
