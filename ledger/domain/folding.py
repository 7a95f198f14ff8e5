"""Folding a stream's envelopes into a state, one typed event at a time.

Each aggregate gives :func:`fold` an ``evolve(state, event, envelope)`` function that
``match``-es on the typed event data (``case UnitLabelled(kind=kind, ...)``), as the
``eventsourcing`` library's example applications do. This lives apart from ``base`` so that it
can import the catalogue (which imports the event modules) without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from functools import cache
from types import CodeType
from typing import Any, Protocol, TypeVar
from uuid import UUID

from ..datatypes import EventData
from ..errors import LedgerError
from .base import Envelope
from .catalogue import SPECS, typed
from .events_case import CorrectionApproved, CorrectionRejected, EventCorrected


class Folded(Protocol):
    stream: UUID | None
    version: int


S = TypeVar("S", bound=Folded)
Evolve = Callable[[S, Any, Envelope], S]


def fold(initial: S, evolve: Evolve[S], envelopes: Iterable[Envelope]) -> S:
    """Fold one stream's envelopes (in ``seq`` order) into a state.

    Only events of the classes ``evolve`` names are converted to typed data and passed to it;
    the others only move ``version``. Corrections that took effect (``corrections_of``: not
    those pending QA approval) patch the data of the event they name before it is applied, so
    states reflect corrected values while the stored record keeps both.
    """
    envs = list(envelopes)
    patches = corrections_of(envs)
    reads = read_by(evolve)
    state = initial
    for env in envs:
        seq = env["seq"]
        if seq != state.version + 1:
            raise LedgerError(
                f"stream {env.get('stream')}: seq {seq} follows {state.version}",
                code="STREAM_OUT_OF_ORDER",
            )
        stream = env["stream"] if isinstance(env["stream"], UUID) else UUID(str(env["stream"]))
        if state.stream is not None and stream != state.stream:
            raise LedgerError(f"event of stream {stream} folded into {state.stream}",
                              code="STREAM_MIXED")
        if env["type"] in reads:
            data = env["data"]
            patch = patches.get(str(env.get("event_id")))
            if patch:
                data = {**data, **patch}
            event = typed(env["type"], data)
            if event is not None:
                state = evolve(state, event, env)
        state = replace(state, stream=stream, version=seq)  # type: ignore[type-var]
    return state


@cache
def read_by(evolve: Callable[..., Any]) -> frozenset[str]:
    """The event types ``evolve`` names (its ``case`` patterns name the classes directly).

    A fold converts only these to typed data: validating the rest again on every write
    (a unit's temperature uploads, up to 20,000 readings each) would cost more than the
    write itself, and the fold would ignore them anyway."""
    names: set[str] = set()
    codes = [evolve.__code__]
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(c for c in code.co_consts if isinstance(c, CodeType))
    found = (evolve.__globals__.get(name) for name in names)
    return frozenset(c.__name__ for c in found if isinstance(c, type) and issubclass(c, EventData))


def corrections_of(envs: Iterable[Envelope]) -> dict[str, dict[str, Any]]:
    """The current value of every corrected field, by the corrected event's id: what the
    corrections that took effect say (see :func:`correction_states`)."""
    return correction_states(envs)[0]


def pending_corrections(envs: Iterable[Envelope]) -> dict[str, Envelope]:
    """The corrections awaiting QA approval, by their event id (see :func:`correction_states`)."""
    return correction_states(envs)[1]


def correction_states(envs: Iterable[Envelope]) -> tuple[dict[str, dict[str, Any]], dict[str, Envelope]]:
    """Which corrections of one stream take effect, and which are pending.

    A correction takes effect when it is recorded, unless it changes a GMP-critical field of
    the corrected type (``EventSpec.critical``): then it is pending until a
    ``CorrectionApproved`` e-signed ``approved`` by someone other than the corrector; a
    rejected (``CorrectionRejected``) or pending one changes nothing. Approved corrections take
    effect in the order of their approvals.

    A correction of a type that is not ``correctable``, or of an e-signed event, takes no
    effect (one may be in a ledger written before such corrections were refused): it stays
    in the record as evidence, but grants no role and changes no signed fact."""
    patches: dict[str, dict[str, Any]] = {}
    pending: dict[str, Envelope] = {}
    signed: set[str] = set()

    def apply(data: Mapping[str, Any]) -> None:
        patch = patches.setdefault(str(data["corrected_event_id"]), {})
        for change in data["changes"]:
            patch[change["field"]] = change["new"]

    for env in envs:
        event_id, kind, data = str(env.get("event_id")), env["type"], env["data"]
        if env.get("esign"):
            signed.add(event_id)
        if kind == EventCorrected.__name__:
            target, spec = str(data["corrected_event_id"]), SPECS.get(data["corrected_type"])
            if spec is None or not spec.correctable or target in signed:
                continue
            if spec.needs_approval(change["field"] for change in data["changes"]):
                pending[event_id] = env
            else:
                apply(data)
        elif kind == CorrectionApproved.__name__:
            correction = pending.get(str(data["correction_event_id"]))
            if correction is not None and approved_by_another(correction, env):
                apply(pending.pop(str(data["correction_event_id"]))["data"])
        elif kind == CorrectionRejected.__name__:
            pending.pop(str(data["correction_event_id"]), None)
    return patches, pending


def approved_by_another(correction: Envelope, approval: Envelope) -> bool:
    """Whether ``approval`` is e-signed ``approved`` by someone other than who made (or had
    made) ``correction``: the four-eyes rule, checked again when folding."""
    esign = approval.get("esign") or {}
    makers = {correction.get("actor"), correction.get("on_behalf")} - {None}
    return esign.get("meaning") == "approved" and esign.get("signer") not in makers \
        and approval.get("actor") not in makers
