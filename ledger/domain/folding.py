"""Folding a stream's envelopes into a state, one typed event at a time.

Each aggregate gives :func:`fold` an ``evolve(state, event, envelope)`` function that
``match``-es on the typed event data (``case UnitLabelled(kind=kind, ...)``), as the
``eventsourcing`` library's example applications do. This lives apart from ``base`` so that it
can import the catalogue (which imports the event modules) without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import cache
from types import CodeType
from typing import Any, Protocol, TypeVar
from uuid import UUID

from ..datatypes import EventData
from ..errors import LedgerError
from .base import Envelope
from .catalogue import SPECS, typed
from .events_case import EventCorrected


class Folded(Protocol):
    stream: UUID | None
    version: int


S = TypeVar("S", bound=Folded)
Evolve = Callable[[S, Any, Envelope], S]


def fold(initial: S, evolve: Evolve[S], envelopes: Iterable[Envelope]) -> S:
    """Fold one stream's envelopes (in ``seq`` order) into a state.

    Only events of the classes ``evolve`` names are converted to typed data and passed to it;
    the others only move ``version``. ``EventCorrected`` events patch the data of the event
    they name before it is applied, so states reflect corrected values while the stored
    record keeps both.
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
    """The current value of every corrected field, by the corrected event's id.

    A correction of a type that is not ``correctable``, or of an e-signed event, takes no
    effect (one may be in a ledger written before such corrections were refused): it stays
    in the record as evidence, but grants no role and changes no signed fact."""
    patches: dict[str, dict[str, Any]] = {}
    signed: set[str] = set()
    for env in envs:
        if env.get("esign"):
            signed.add(str(env.get("event_id")))
        if env["type"] == EventCorrected.__name__:
            data = env["data"]
            target, spec = str(data["corrected_event_id"]), SPECS.get(data["corrected_type"])
            if spec is None or not spec.correctable or target in signed:
                continue
            patch = patches.setdefault(target, {})
            for change in data["changes"]:
                patch[change["field"]] = change["new"]
    return patches
