"""Stream identifiers: every stream id is derived (UUID v5) from a name, never drawn at random.

A case's stream follows from its COI id, a unit's from its label id, a lot's from its case's
COI and lot number, and a registry stream (user, device, site) from the id people chose. The
same name always lands in the same stream, so a COI, a label or a lot cannot be recorded
twice, and an id can never be given a second stream (user ids are never reused, 21 CFR 11.100).
"""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID, uuid5

# Fixed forever: changing it would move every registry stream.
LEDGER_NAMESPACE = UUID("6f1c0a52-6c8e-4c38-9a4e-3f0d2a7b9e11")


@lru_cache(maxsize=4096)  # registry ids recur in every event of a batch (uuid5 is SHA-1)
def user_stream(user_id: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"user:{user_id}")


@lru_cache(maxsize=4096)
def device_stream(device_id: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"device:{device_id}")


@lru_cache(maxsize=4096)
def site_stream(site_id: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"site:{site_id}")


def case_stream(coi: str) -> UUID:
    """A case's stream follows from its COI id, so a COI can never be enrolled twice."""
    return uuid5(LEDGER_NAMESPACE, f"case:{coi}")


def unit_stream(label: str) -> UUID:
    """A unit's stream (its ``unit_id``) follows from the label id the ledger issued."""
    return uuid5(LEDGER_NAMESPACE, f"unit:{label}")


def lot_stream(coi: str, lot: str) -> UUID:
    """A manufacturing lot's stream: lot numbers are the manufacturer's, unique within a case."""
    return uuid5(LEDGER_NAMESPACE, f"lot:{coi}:{lot}")


def product_stream(product: str) -> UUID:
    """A product's stream: its specifications (``ProductSpecDefined``, ``ProductSpecApproved``),
    named by the product exactly as cases name it (``CaseEnrolled.product``)."""
    return uuid5(LEDGER_NAMESPACE, f"product:{product}")


def deviation_stream(deviation_id: str) -> UUID:
    """A deviation's stream: opened and closed by QA (``DeviationOpened``, ``DeviationClosed``)."""
    return uuid5(LEDGER_NAMESPACE, f"deviation:{deviation_id}")


def ledger_stream(name: str) -> UUID:
    """A stream of the ledger's own operation (``settings``, ``sealing-keys``, ``sign-in``,
    ``log-reviews``, ``review``: dispositions of exceptions without a case)."""
    return uuid5(LEDGER_NAMESPACE, f"ledger:{name}")


def subscription_stream(subscription_id: str) -> UUID:
    """A webhook subscription's stream (created, paused, resumed, deleted)."""
    return uuid5(LEDGER_NAMESPACE, f"subscription:{subscription_id}")


def alert_stream(alert_id: str) -> UUID:
    """An alert's stream: raised and cleared; the id follows from the alert's kind and subject."""
    return uuid5(LEDGER_NAMESPACE, f"alert:{alert_id}")


def order_stream(order_id: str) -> UUID:
    """A therapy order's stream: ordered, plans booked, cancelled."""
    return uuid5(LEDGER_NAMESPACE, f"order:{order_id}")


def lane_stream(lane_id: str) -> UUID:
    """A courier lane's stream (origin, destination, transit time, cut-off, days)."""
    return uuid5(LEDGER_NAMESPACE, f"lane:{lane_id}")


def capacity_stream(site_id: str, resource: str, day: str) -> UUID:
    """One site's resource on one local day (ISO date): slots booked and released there. Bookings of
    one day race on this stream's version, so the last free slot is never given twice."""
    return uuid5(LEDGER_NAMESPACE, f"capacity:{site_id}:{resource}:{day}")
