"""A product's timing rules for the planner, read from its approved specification: which
``shelf_lives`` and ``process_durations`` keys mean what."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from ..planning.network import TimingRules
from .product_spec import SpecVersion

FRESH_SHELF_LIFE = "fresh_apheresis"
"""``shelf_lives`` key: hours the collected cells keep until manufacturing starts."""
FINAL_STABILITY = "final_product"
"""``shelf_lives`` key: hours the final product keeps after QC release (the infusion deadline)."""
MANUFACTURING_HOURS = "manufacturing"
"""``process_durations`` key: manufacturing time, in whole days of a suite (hours / 24, rounded up)."""
QC_HOURS = "qc"
"""``process_durations`` key: hours from the end of manufacturing to QC release."""
INFUSION_WINDOW_HOURS = "infusion_window"
"""``process_durations`` key: the infusion window after the product arrives (hours / 24, rounded up)."""


def timing_rules(spec: SpecVersion | None) -> TimingRules:
    """A product's timing from its approved specification; a key it does not give keeps the
    planner's default (``TimingRules``)."""
    rules = TimingRules()
    if spec is None:
        return rules
    lives, durations = spec.spec.shelf_lives, spec.spec.process_durations
    changes: dict[str, Any] = {}
    if FRESH_SHELF_LIFE in lives:
        changes["fresh_shelf_life_hours"] = float(lives[FRESH_SHELF_LIFE])
    if FINAL_STABILITY in lives:
        changes["final_stability_hours"] = float(lives[FINAL_STABILITY])
    if MANUFACTURING_HOURS in durations:
        changes["manufacturing_days"] = max(1, math.ceil(durations[MANUFACTURING_HOURS] / 24))
    if QC_HOURS in durations:
        changes["qc_hours"] = float(durations[QC_HOURS])
    if INFUSION_WINDOW_HOURS in durations:
        changes["infusion_window_days"] = max(1, math.ceil(durations[INFUSION_WINDOW_HOURS] / 24))
    return replace(rules, **changes)
