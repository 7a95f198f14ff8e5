"""The shape of a therapy plan: one leg per stage, needle to needle.

A plan is both the planner's output and the data of ``OrderPlanBooked``, so it is an
``EventData``: frozen, unknown fields refused. Days are the site's local calendar days; times
are UTC instants (``UtcTime``) so legs in two time zones compare directly.
"""

from __future__ import annotations

from datetime import date

from ..datatypes import EventData, Identifier, UtcTime


class ApheresisLeg(EventData):
    site: Identifier
    day: date


class PickupLeg(EventData):
    """The collected cells leave the collection site on ``lane`` at ``depart_at``."""

    lane: Identifier
    depart_at: UtcTime
    arrive_at: UtcTime


class ManufacturingLeg(EventData):
    site: Identifier
    start_day: date
    end_day: date


class QCReleaseLeg(EventData):
    site: Identifier
    ready_at: UtcTime


class ReturnLeg(EventData):
    """The final product travels back to the treating site on ``lane``."""

    lane: Identifier
    depart_at: UtcTime
    arrive_at: UtcTime


class InfusionWindow(EventData):
    site: Identifier
    from_day: date
    to_day: date


class Plan(EventData):
    apheresis: ApheresisLeg
    pickup: PickupLeg
    manufacturing: ManufacturingLeg
    qc_release: QCReleaseLeg
    return_shipment: ReturnLeg
    infusion_window: InfusionWindow
