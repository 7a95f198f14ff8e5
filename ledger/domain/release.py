"""QA's review sign-off and the release gate that relies on it; the case figures.

**Family.** The exceptions that matter for a product are those of its *family*: its case's
stream, the product unit and all its ancestors (``manufacturing.lineage``: the lot, the bags it
was made from). A case's review sign-off covers the case's family: the case stream and every
unit and lot of the case with their ancestors (``ledger.services.release``), a superset of
each of its products' families. Exceptions are folded from those streams' sealed events by
``ledger.domain.exceptions.fold_exceptions`` (the same rules as the exceptions read model).

**Sign-off** (``ReviewSignedOff``, e-signed ``reviewed`` by QA): refused while an exception of
the family is open and COI-critical or GMP (``REVIEW_INCOMPLETE``, naming it), and unless the
client's list of exceptions (id, hash of the opening event, state, classification) equals the
family's now (``REVIEW_LIST_STALE``): QA signs exactly what it saw. Informational exceptions
may stay open; they are listed as such.

**Release gate** (:func:`require_review`, called by ``decide_release`` after the product's own
checks), in this order, each refusal naming its rule and the exception:

1. ``EXCEPTION_OPEN``: an exception of the product's family is open and COI-critical or GMP;
2. ``PRODUCT_IMPACT``: one was dispositioned ``product_impact``;
3. ``REVIEW_REQUIRED``: the case has no review sign-off;
4. ``REVIEW_OUTDATED``: an exception of the family is not in the latest sign-off's list, or its
   hash, state or classification differs (raised or changed after QA signed).

**Figures** (:func:`case_figures`, pure; times are when events happened: ``occurred_at``, else
``recorded_at``):

* ``needle_to_needle_days``: the first ``MaterialCollected`` into a unit of the case's own COI
  -> the first ``ProductInfused`` into the case (or ``now`` while not infused); only for a
  patient case with its own collection (autologous); ``None`` for a donor case and for an
  allogeneic patient, whose dose comes off the shelf;
* ``manufacturing_end_to_signoff_h``: when the product was made (its ``UnitLabelled`` by the fill
  or derivation that made it) -> the latest ``ReviewSignedOff`` of its case at or before its
  release (before now while unreleased); ``None`` without either;
* ``manufacturing_end_to_release_h``: when it was made -> its ``ProductReleased``; ``None`` while
  unreleased.

The product is the case's first released final product (else the latest made); for an
allogeneic patient the dose allocated to it, whose sign-off and release are the donor case's.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..timefmt import format_utc
from .base import NewEvent, new_event, refusal, require_aware, when
from .case import CaseState
from .esign import Manifestation, require_esign
from .events_release import ReviewSignedOff
from .users import UserState

BLOCKING = frozenset({"coi_critical", "gmp"})
SHOWN = 5  # exceptions named in a refusal's detail


@dataclass(frozen=True)
class SignOffRecord:
    """The latest ``ReviewSignedOff`` of a case: what it listed, who signed it and when."""

    event_id: str
    at: datetime
    signer: str | None
    printed_name: str | None
    listed: Mapping[str, tuple[str, str, str | None]]  # exception id -> (hash, state, classification)
    lot: str | None = None


@dataclass(frozen=True)
class ReleaseReview:
    """What the release gate judges: the family's exceptions now and the case's latest sign-off."""

    exceptions: Mapping[str, Any]  # exception id -> ledger.domain.exceptions.CaseException
    signoff: SignOffRecord | None


def in_log_order(streams: Iterable[Sequence[tuple[Mapping[str, Any], str]]]) -> list[tuple[Mapping[str, Any], str]]:
    """``(envelope, hash)`` of several streams merged by ``recorded_at`` (each stream keeps its
    own order; streams are never interleaved out of their seq order)."""
    return list(heapq.merge(*streams, key=lambda pair: pair[0]["recorded_at"]))


def latest_signoff(case_envelopes: Iterable[Mapping[str, Any]], *,
                   before: datetime | None = None) -> SignOffRecord | None:
    """The case's latest review sign-off (recorded at or before ``before``, if given)."""
    found = None
    for env in case_envelopes:
        if env["type"] != ReviewSignedOff.__name__:
            continue
        if before is not None and when(env) > before:
            continue
        sig = env.get("esign") or {}
        data = env["data"]
        found = SignOffRecord(
            event_id=str(env["event_id"]), at=when(env), signer=sig.get("signer") or env.get("actor"),
            printed_name=sig.get("printed_name"), lot=data.get("lot"),
            listed={e["exception_id"]: (e["event_hash"], e["state"], e.get("classification"))
                    for e in data.get("exceptions", [])})
    return found


def listing(exceptions: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The family's exceptions as a sign-off lists them, by id."""
    return [{"exception_id": e.exception_id, "event_hash": e.opened_hash, "state": e.state,
             "classification": e.classification} for _, e in sorted(exceptions.items())]


def _named(items: Sequence[Any]) -> str:
    shown = ", ".join(f"{e.exception_id} ({e.kind}: {e.detail})" for e in items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def _blocking(exceptions: Mapping[str, Any]) -> list[Any]:
    return [e for _, e in sorted(exceptions.items()) if e.state == "open" and e.severity in BLOCKING]


def decide_sign_off(case: CaseState, exceptions: Mapping[str, Any], listed: Sequence[Mapping[str, Any]], *,
                    spec_results: Sequence[Mapping[str, Any]] = (), lot: str | None = None,
                    comment: str | None = None, esign: Manifestation | None, signer: UserState | None,
                    actor: str, now: datetime) -> list[NewEvent]:
    """QA signs off the review of ``case`` whose family has ``exceptions`` now; ``listed`` is what
    the client showed QA (``exception_id``, ``event_hash``, ``state``, ``classification``)."""
    require_aware(now)
    if case.status == "none" or case.stream is None:
        raise refusal("CASE_NOT_FOUND", "no case is enrolled in this stream")
    if case.status == "cancelled":
        raise refusal("CASE_CANCELLED", f"case {case.coi} is cancelled")
    open_ = _blocking(exceptions)
    if open_:
        raise refusal("REVIEW_INCOMPLETE", f"{len(open_)} COI-critical or GMP exception(s) of {case.coi} "
                      f"still open: {_named(open_)}")
    now_listed = {e["exception_id"]: e for e in listing(exceptions)}
    given = {str(e["exception_id"]): {"exception_id": str(e["exception_id"]), "event_hash": e.get("event_hash"),
                                      "state": e.get("state"), "classification": e.get("classification")}
             for e in listed}
    if given != now_listed or len(given) != len(listed):
        missing = sorted(set(now_listed) - set(given))
        extra = sorted(set(given) - set(now_listed))
        changed = sorted(k for k in set(given) & set(now_listed) if given[k] != now_listed[k])
        parts = [f"{what}: {', '.join(ids[:SHOWN])}" for what, ids in
                 (("not listed", missing), ("unknown", extra), ("changed", changed)) if ids]
        raise refusal("REVIEW_LIST_STALE", f"the exceptions listed are not {case.coi}'s now ("
                      + ("; ".join(parts) or "listed twice") + ")")
    require_esign(ReviewSignedOff.__name__, esign, signer, actor=actor)
    return [new_event(case.stream, ReviewSignedOff, coi=case.coi,  # type: ignore[arg-type]
                      exceptions=list(now_listed.values()), spec_results=list(spec_results), lot=lot,
                      comment=comment)]


def require_review(review: ReleaseReview, *, label: str | None) -> None:
    """The release gate (see the module): refuses with the rule's code, naming the exception."""
    exceptions = review.exceptions
    open_ = _blocking(exceptions)
    if open_:
        raise refusal("EXCEPTION_OPEN", f"{label}: exception(s) open: {_named(open_)}")
    impact = [e for _, e in sorted(exceptions.items()) if e.classification == "product_impact"]
    if impact:
        raise refusal("PRODUCT_IMPACT", f"{label}: dispositioned product_impact: {_named(impact)}")
    signoff = review.signoff
    if signoff is None:
        raise refusal("REVIEW_REQUIRED", f"{label}: the case's review has not been signed off")
    changed = [e for _, e in sorted(exceptions.items())
               if signoff.listed.get(e.exception_id) != (e.opened_hash, e.state, e.classification)]
    if changed:
        raise refusal("REVIEW_OUTDATED", f"{label}: raised or changed after the review signed off at "
                      f"{format_utc(signoff.at)}: {_named(changed)}")


# Figures ---------------------------------------------------------------------------------------

def _hours(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 3600, 1)


def case_figures(*, collected_at: datetime | None, infused_at: datetime | None,
                 manufactured_at: datetime | None, signed_off_at: datetime | None,
                 released_at: datetime | None, now: datetime) -> dict[str, float | None]:
    """The case's turnaround figures (see the module for what each time is)."""
    require_aware(now)
    needle = None
    if collected_at is not None:
        needle = round(((infused_at or now) - collected_at).total_seconds() / 86400, 2)
    return {"needle_to_needle_days": needle,
            "manufacturing_end_to_signoff_h": _hours(manufactured_at, signed_off_at),
            "manufacturing_end_to_release_h": _hours(manufactured_at, released_at)}


def figure_times(case: CaseState, case_envelopes: Sequence[Mapping[str, Any]],
                 units: Mapping[str, Sequence[Mapping[str, Any]]],
                 product_cases: Mapping[str, Sequence[Mapping[str, Any]]], *,
                 now: datetime) -> dict[str, datetime | None]:
    """The times :func:`case_figures` takes, from a case's events (``case_envelopes``), the
    envelopes of its units and their ancestors (``units``, by stream; for an allogeneic patient
    the allocated doses and theirs) and the case streams of those products (``product_cases``,
    by stream: a dose's donor case)."""
    collected = infused = None
    for envs in units.values():
        labelled = next((e for e in envs if e["type"] == "UnitLabelled"), None)
        if labelled is None:
            continue
        own = labelled["data"].get("coi") == case.coi
        for env in envs:
            if env["type"] == "MaterialCollected" and own and case.role == "patient":
                collected = min(collected or when(env), when(env))
            if env["type"] == "ProductInfused" and env["data"].get("coi") == case.coi:
                infused = min(infused or when(env), when(env))
    products = []  # (made, released, case stream)
    for stream, envs in units.items():
        labelled = next((e for e in envs if e["type"] == "UnitLabelled"), None)
        if labelled is None or labelled["data"].get("kind") not in ("final_product_bag", "cryobag"):
            continue
        if not labelled["data"].get("parents"):
            continue  # not made by manufacturing
        mine = labelled["data"].get("coi") == case.coi or stream in {str(u) for u in case.allocated_units}
        if not mine:
            continue
        released = next((when(e) for e in envs if e["type"] == "ProductReleased"), None)
        products.append((when(labelled), released, str(labelled["data"].get("case"))))
    if not products:
        return {"collected_at": collected, "infused_at": infused, "manufactured_at": None,
                "signed_off_at": None, "released_at": None}
    released_ones = sorted((p for p in products if p[1] is not None), key=lambda p: p[1])
    made, released, owner = released_ones[0] if released_ones else max(products, key=lambda p: p[0])
    owner_envs = product_cases.get(owner, case_envelopes)
    signoff = latest_signoff(owner_envs, before=released or now)
    return {"collected_at": collected, "infused_at": infused, "manufactured_at": made,
            "signed_off_at": signoff.at if signoff else None, "released_at": released}
