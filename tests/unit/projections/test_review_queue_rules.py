"""The work queue's pure parts: which stage a case is in, the figures' distribution, and the values
a search query stands for (a DIN in every form people type or scan it)."""

from __future__ import annotations

import pytest

from projections.review_queue_query import distribution, stage_of
from projections.search_query import candidates


@pytest.mark.parametrize(("milestone", "manufactured", "signoff", "changed", "blocking", "stage"), [
    ("infused", True, None, 0, 1, "infused"),
    ("allocated", True, None, 0, 0, "released"),
    ("released", True, 5, 9, 0, "released"),
    ("in_manufacturing", False, None, 0, 0, "in_progress"),
    ("in_manufacturing", True, None, 0, 0, "awaiting_review"),  # no sign-off
    ("in_manufacturing", True, 10, 9, 0, "awaiting_release"),  # sign-off after the last exception change
    ("in_manufacturing", True, 10, 11, 0, "awaiting_review"),  # an exception raised or changed since
    ("in_manufacturing", True, 10, 9, 1, "awaiting_review"),  # a COI-critical or GMP exception open
    ("on_hold", True, 10, 9, 0, "awaiting_release"),
])
def test_stage(milestone, manufactured, signoff, changed, blocking, stage):
    assert stage_of(milestone, manufactured=manufactured, signoff_position=signoff, changed_position=changed,
                    blocking_open=blocking) == stage


def test_distribution_min_median_p90_max():
    assert distribution([]) == {"n": 0, "min": None, "median": None, "p90": None, "max": None}
    assert distribution([None, 3.0]) == {"n": 1, "min": 3.0, "median": 3.0, "p90": 3.0, "max": 3.0}
    assert distribution([4.0, 1.0, 3.0, 2.0]) == {"n": 4, "min": 1.0, "median": 2.5, "p90": 4.0, "max": 4.0}
    ten = distribution([float(v) for v in range(1, 11)])
    assert (ten["median"], ten["p90"]) == (5.5, 9.0)  # nearest rank: the 9th of 10


@pytest.mark.parametrize("typed", ["A999926123456", "=A999926123456", "=A99992612345600", "=A9999 26 123456 00",
                                   "a999926123456"])
def test_a_din_is_looked_up_as_the_labels_13_characters(typed):
    assert "A999926123456" in candidates(typed)


def test_other_queries_are_tried_as_typed_and_in_upper_case():
    assert candidates("  trk-back-1 ") == ["trk-back-1", "TRK-BACK-1"]
    assert candidates("   ") == []
    assert candidates("=X") == ["=X"]  # a malformed ISBT 128 text: only itself, no error
    assert candidates("LOT-Q-7") == ["LOT-Q-7"]
