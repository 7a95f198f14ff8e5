"""QA's decisions on exceptions (``ledger.domain.exceptions``): disposition one, acknowledge
informational ones as a group, open and close a deviation. Pure: the exceptions are given as
folded by :func:`~.exceptions.fold_exceptions` over the streams they were raised on and the
case stream their dispositions are recorded on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from ..errors import RuleViolation
from .base import NewEvent, new_event, refusal, require_aware, require_reason
from .case import CaseState, require_case
from .esign import Manifestation, require_esign
from .events_review import DeviationClosed, DeviationOpened, ExceptionDispositioned, InformationalAcknowledged
from .exceptions import CaseException
from .users import UserState


@dataclass(frozen=True)
class DeviationState:
    deviation_id: str | None = None
    title: str | None = None
    coi: str | None = None
    exception_ids: tuple[str, ...] = field(default=())
    closed: bool = False
    capa: str | None = None

    @property
    def opened(self) -> bool:
        return self.deviation_id is not None


def fold_deviation(envelopes: Sequence[Mapping[str, Any]]) -> DeviationState:
    state = DeviationState()
    for env in envelopes:
        data = env["data"]
        if env["type"] == DeviationOpened.__name__:
            state = DeviationState(data["deviation_id"], data["title"], data.get("coi"),
                                   tuple(data.get("exception_ids") or ()))
        elif env["type"] == DeviationClosed.__name__:
            state = DeviationState(state.deviation_id, state.title, state.coi, state.exception_ids, True,
                                   data["capa"])
    return state


def unknown_exception(exception_id: str) -> RuleViolation:
    """The refusal for an exception id that names none (answered as not found, 404)."""
    error = refusal("UNKNOWN_EXCEPTION", f"no exception {exception_id}")
    error.status = 404
    return error


def decide_disposition(found: Mapping[str, CaseException], at: UUID, *, exception_id: str, event_hash: str,
                       classification: str, comment: str, deviation_id: str | None,
                       deviation: DeviationState | None, esign: Manifestation | None, signer: UserState | None,
                       actor: str, now: datetime) -> list[NewEvent]:
    """QA's e-signed disposition of one open exception, on the stream ``at`` (its case's, or the
    ledger's review stream). ``event_hash`` must be the opening event's: the signature covers
    what was reviewed. ``deviation`` is the state of ``deviation_id`` (when one is named)."""
    require_aware(now)
    exception = found.get(exception_id)
    if exception is None:
        raise unknown_exception(exception_id)
    if exception.state != "open":
        raise refusal("ALREADY_DISPOSITIONED", f"{exception_id} was dispositioned {exception.classification} "
                                               f"by {exception.dispositioned_event_id}")
    if event_hash != exception.opened_hash:
        raise refusal("HASH_MISMATCH", f"{exception_id} was opened by an event with hash {exception.opened_hash}, "
                                       f"not {event_hash}")
    named = deviation_id is not None or classification == "deviation"
    if named and (deviation is None or not deviation.opened or deviation.closed):
        raise refusal("DEVIATION_REQUIRED", f"a disposition naming a deviation needs an open one "
                                            f"(not {deviation_id!r})")
    require_reason(comment, "a disposition")
    require_esign(ExceptionDispositioned.__name__, esign, signer, actor=actor)
    return [new_event(at, ExceptionDispositioned, exception_id=exception_id, event_hash=event_hash,
                      classification=classification, comment=comment, deviation_id=deviation_id)]


def decide_acknowledge(found: Mapping[str, CaseException], owners: Mapping[str, UUID],
                       exception_ids: Sequence[str], comment: str | None, *, esign: Manifestation | None,
                       signer: UserState | None, actor: str, now: datetime) -> list[NewEvent]:
    """QA acknowledges informational exceptions, one event per stream they are recorded on
    (``owners``: exception id -> its case stream, or the review stream)."""
    require_aware(now)
    by_stream: dict[UUID, list[str]] = {}
    for exception_id in dict.fromkeys(exception_ids):
        exception = found.get(exception_id)
        if exception is None or exception_id not in owners:
            raise unknown_exception(exception_id)
        if exception.severity != "informational":
            raise refusal("NOT_INFORMATIONAL", f"{exception_id} is {exception.severity}: disposition it on its own")
        if exception.state != "open":
            raise refusal("ALREADY_DISPOSITIONED", f"{exception_id} was dispositioned {exception.classification}")
        by_stream.setdefault(owners[exception_id], []).append(exception_id)
    if not by_stream:
        raise refusal("UNKNOWN_EXCEPTION", "no exception named")
    require_esign(InformationalAcknowledged.__name__, esign, signer, actor=actor)
    return [new_event(stream, InformationalAcknowledged, exception_ids=ids, comment=comment)
            for stream, ids in by_stream.items()]


def decide_open_deviation(deviation: DeviationState, at: UUID, *, deviation_id: str, title: str,
                          case: CaseState | None, exception_ids: Sequence[str], actor: str,
                          now: datetime) -> list[NewEvent]:
    """Open a deviation, of ``case`` (an existing case) when one is given."""
    require_aware(now)
    if case is not None:
        require_case(case, active=False)
    if deviation.opened:
        raise refusal("DEVIATION_EXISTS", f"deviation {deviation_id} was opened before")
    require_reason(title, "a deviation")
    return [new_event(at, DeviationOpened, deviation_id=deviation_id, title=title,
                      coi=case.coi if case else None, case=case.stream if case else None,
                      exception_ids=list(dict.fromkeys(exception_ids)))]


def decide_close_deviation(deviation: DeviationState, at: UUID, *, deviation_id: str, capa: str, outcome: str,
                           esign: Manifestation | None, signer: UserState | None, actor: str,
                           now: datetime) -> list[NewEvent]:
    require_aware(now)
    if not deviation.opened:
        error = refusal("DEVIATION_NOT_FOUND", f"no deviation {deviation_id}")
        error.status = 404
        raise error
    if deviation.closed:
        raise refusal("DEVIATION_CLOSED", f"deviation {deviation_id} was closed with CAPA {deviation.capa}")
    require_reason(outcome, "closing a deviation")
    require_esign(DeviationClosed.__name__, esign, signer, actor=actor)
    return [new_event(at, DeviationClosed, deviation_id=deviation_id, capa=capa, outcome=outcome)]
