"""The whole-log review's decision (EU GMP Annex 11 §9): its range lies within the log, starts at
most one past where the reviews so far reached (overlap allowed), and needs QA's signature."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from ledger.domain.events_ledger import AuditLogReviewed
from ledger.domain.log_review import decide_review_audit_log, reviewed_through
from ledger.errors import InvalidEvent, RuleViolation

STREAM, NOW = uuid4(), datetime(2026, 1, 2, tzinfo=UTC)


def _reviewed(first: int, last: int) -> dict:
    return {"type": AuditLogReviewed.__name__, "data": {"from_position": first, "through_position": last},
            "actor": "qa", "esign": {"signer": "qa"}, "recorded_at": "2026-01-01T00:00:00.000000Z"}


def _decide(reviews, first, last, *, log=100):
    return decide_review_audit_log(reviews, STREAM, from_position=first, through_position=last, last_position=log,
                                   comment=None, esign=None, signer=None, actor="qa", now=NOW)


@pytest.mark.parametrize(("first", "last"), [(0, 5), (6, 5), (1, 101)])
def test_a_range_outside_the_log_or_reversed_is_invalid(first, last):
    with pytest.raises(InvalidEvent) as refused:
        _decide([], first, last)
    assert refused.value.code == "INVALID_DATA"


def test_a_review_may_not_skip_positions_past_where_the_reviews_reached():
    assert reviewed_through([]) == 0
    with pytest.raises(RuleViolation) as refused:
        _decide([], 2, 10)  # the first starts at 1
    assert refused.value.code == "REVIEW_GAP"
    reviews = [_reviewed(1, 40), _reviewed(10, 20)]  # a second look at 10..20 does not move the end back
    assert reviewed_through(reviews) == 40
    with pytest.raises(RuleViolation) as refused:
        _decide(reviews, 42, 60)
    assert refused.value.code == "REVIEW_GAP"


@pytest.mark.parametrize("first", [1, 30, 41])
def test_a_contiguous_or_overlapping_review_reaches_the_signature_check(first):
    with pytest.raises(RuleViolation) as refused:
        _decide([_reviewed(1, 40)], first, 60)
    assert refused.value.code == "ESIGNATURE_REQUIRED"
