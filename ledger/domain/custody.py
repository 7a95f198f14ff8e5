"""Custody, packing and shipping commands on units.

``actor`` is the party custody is checked against: the service passes the acting user's id
(or, if custody is held by organisations, that user's site id), consistently. A container's
handover, acknowledgement, dispatch and delivery are appended on the container's stream and
on each contained unit's stream (``via_container``); the service passes the container's
current ``contents`` states and appends with all of their versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..datatypes import EventData
from .base import NewEvent, new_event, refusal, require_aware, require_reason
from .conditions import is_empty, limits_of, narrowest
from .events_unit import (
    CustodyAcknowledged,
    CustodyDeclined,
    CustodyTransferred,
    PackedInto,
    ShipmentDelivered,
    ShipmentDispatched,
    UnpackedFrom,
)
from .unit import (
    UnitState,
    require_contents,
    require_custodian,
    require_not_packed,
    require_settled,
    require_unit,
    require_usable,
)


def _with_contents(unit: UnitState, contents: Sequence[UnitState], model: type[EventData],
                   **fields: Any) -> list[NewEvent]:
    require_contents(unit, contents)
    events = [new_event(unit.stream, model, **fields)]  # type: ignore[arg-type]
    events += [new_event(u.stream, model, via_container=unit.stream, **fields)  # type: ignore[arg-type]
               for u in contents]
    return events


def decide_handover(unit: UnitState, to_party: str, *, contents: Sequence[UnitState] = (),
                    location: str | None = None, condition: str | None = None,
                    actor: str, now: datetime) -> list[NewEvent]:
    """Offer custody to ``to_party``; pending until acknowledged by them."""
    require_aware(now)
    require_usable(unit)
    require_not_packed(unit)
    require_custodian(unit, actor)
    if unit.pending is not None:
        raise refusal("TRANSFER_PENDING",
                      f"{unit.label}: handover to {unit.pending.to_party} is not acknowledged")
    if to_party == actor:
        raise refusal("HANDOVER_TO_SELF", f"{actor} already holds {unit.label}")
    return _with_contents(unit, contents, CustodyTransferred, from_party=actor,
                          to_party=to_party, location=location, condition=condition)


def _require_receiver(unit: UnitState, actor: str) -> None:
    require_unit(unit)
    require_not_packed(unit)
    if unit.pending is None:
        raise refusal("NO_PENDING_TRANSFER", f"no handover of {unit.label} awaits receipt")
    if unit.pending.to_party != actor:
        raise refusal("NOT_RECEIVER",
                      f"the handover of {unit.label} is to {unit.pending.to_party}, not {actor}")


def decide_acknowledge(unit: UnitState, *, contents: Sequence[UnitState] = (),
                       location: str | None = None, condition: str | None = None,
                       actor: str, now: datetime) -> list[NewEvent]:
    """The named receiver takes custody."""
    require_aware(now)
    _require_receiver(unit, actor)
    assert unit.pending is not None
    return _with_contents(unit, contents, CustodyAcknowledged,
                          from_party=unit.pending.from_party, to_party=actor,
                          location=location, condition=condition)


def decide_decline(unit: UnitState, reason: str, *, contents: Sequence[UnitState] = (),
                   actor: str, now: datetime) -> list[NewEvent]:
    """The named receiver refuses the handover; custody stays with the sender."""
    require_aware(now)
    _require_receiver(unit, actor)
    assert unit.pending is not None
    require_reason(reason, "declining a handover")
    return _with_contents(unit, contents, CustodyDeclined, from_party=unit.pending.from_party,
                          to_party=actor, reason=reason)


def decide_pack(unit: UnitState, container: UnitState, *, contents: Sequence[UnitState] = (),
                actor: str, now: datetime) -> list[NewEvent]:
    """Pack ``unit`` into ``container`` (``PackedInto`` on both streams).

    What a container carries must be kept to a temperature range: the unit's own or, if it has
    none, the container's (its own, else inherited from ``contents``, the units already inside:
    the narrowest of their ranges). Packing is refused when there is none, or when the ranges of
    what would travel together have nothing in common.
    """
    require_aware(now)
    require_usable(unit)
    require_usable(container)
    if not container.is_container:
        raise refusal("NOT_A_CONTAINER", f"{container.label} is a {container.kind}")
    if unit.is_container:
        raise refusal("CONTAINER_IN_CONTAINER", f"{unit.label} is itself a container")
    if unit.container is not None:
        raise refusal("ALREADY_PACKED", f"{unit.label} is already packed in {unit.container}")
    for thing in (unit, container):
        require_custodian(thing, actor)
        require_settled(thing)
    require_contents(container, contents)
    together = [limits_of(container), *(limits_of(u) for u in contents)]
    if limits_of(unit) is None and narrowest(together) is None:
        raise refusal("NO_TEMPERATURE_SPEC",
                      f"neither {unit.label} nor {container.label} (or what it carries) has a "
                      "temperature range: label one of them with spec.min_celsius/max_celsius")
    if is_empty(narrowest([limits_of(unit), *together])):
        raise refusal("SPEC_CONFLICT",
                      f"the temperature range of {unit.label} has nothing in common with that of "
                      f"{container.label} and what it carries")
    return [new_event(s.stream, PackedInto, unit=unit.stream,  # type: ignore[arg-type]
                      container=container.stream) for s in (unit, container)]


def decide_unpack(unit: UnitState, container: UnitState, *, actor: str,
                  now: datetime) -> list[NewEvent]:
    """Take ``unit`` out of ``container`` (``UnpackedFrom`` on both streams)."""
    require_aware(now)
    require_unit(unit)
    require_unit(container)
    if unit.container != container.stream:
        raise refusal("NOT_IN_CONTAINER", f"{unit.label} is not in {container.label}")
    require_custodian(container, actor)
    require_settled(container)
    return [new_event(s.stream, UnpackedFrom, unit=unit.stream,  # type: ignore[arg-type]
                      container=container.stream) for s in (unit, container)]


def decide_dispatch(unit: UnitState, *, carrier: str, tracking: str, from_site: str,
                    to_site: str, contents: Sequence[UnitState] = (), actor: str,
                    now: datetime) -> list[NewEvent]:
    """The custodian ships a unit or a container (with its contents)."""
    require_aware(now)
    require_usable(unit)
    require_not_packed(unit)
    require_custodian(unit, actor)
    require_settled(unit)
    return _with_contents(unit, contents, ShipmentDispatched, carrier=carrier,
                          tracking=tracking, from_site=from_site, to_site=to_site)


def decide_deliver(unit: UnitState, *, tracking: str | None = None, to_site: str | None = None,
                   condition: str | None = None, contents: Sequence[UnitState] = (),
                   actor: str, now: datetime) -> list[NewEvent]:
    """Close the shipment in transit; ``tracking``, if given, must be the dispatched one."""
    require_aware(now)
    require_unit(unit)
    require_not_packed(unit)
    if unit.shipment is None:
        raise refusal("NOT_IN_TRANSIT", f"{unit.label} is not in transit")
    if tracking is not None and tracking != unit.shipment.tracking:
        raise refusal("TRACKING_MISMATCH",
                      f"{unit.label} travels as {unit.shipment.tracking}, not {tracking}")
    return _with_contents(unit, contents, ShipmentDelivered, carrier=unit.shipment.carrier,
                          tracking=unit.shipment.tracking,
                          to_site=to_site or unit.shipment.to_site, condition=condition)
