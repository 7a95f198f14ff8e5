"""Building blocks shared by every aggregate: new events, refusals, envelope times.

A stored event is the envelope dict fixed by docs/DESIGN.md (``stream``, ``seq``, ``type``,
``data``, ``recorded_at``, ``occurred_at``, ``actor`` ...). Decisions never see the hash
chain: they read states folded from envelopes (``folding``) and return :class:`NewEvent`
values that the application service wraps into envelopes and appends atomically.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from ..datatypes import EventData, validated
from ..errors import RuleViolation
from ..timefmt import format_utc, parse_utc
from .rules import CODES

Envelope = Mapping[str, Any]


@dataclass(frozen=True)
class NewEvent:
    """An event decided but not yet stored; ``data`` is already the model's JSON dump."""

    stream: UUID
    type: str
    data: dict[str, Any]
    model: EventData | None = field(default=None, compare=False, repr=False)
    """The typed model ``data`` was dumped from, when decided here (spares converting it back)."""

    @property
    def typed_data(self) -> EventData | dict[str, Any]:
        """The typed model if known, else the JSON data (``ledger.domain.scope.event_sites`` takes either)."""
        return self.model if self.model is not None else self.data


class RecordedRefusal(RuleViolation):
    """A refusal at a COI-critical step: append ``events`` first, then answer with the error."""

    def __init__(self, detail: str, *, code: str, events: Iterable[NewEvent]) -> None:
        super().__init__(detail, code=code)
        self.events = list(events)


def refusal(code: str, detail: str) -> RuleViolation:
    if code not in CODES:  # keeps rules.CODES (the documented list) complete
        raise ValueError(f"undocumented refusal code {code!r}")
    return RuleViolation(detail, code=code)


M = TypeVar("M", bound=EventData)


def validate(model: type[M], **fields: Any) -> M:
    """``model`` built from ``fields``, or ``InvalidEvent(code="INVALID_DATA")``."""
    return validated(model, fields)


def event_of(stream: UUID, data: EventData) -> NewEvent:
    return NewEvent(stream, type(data).__name__, data.model_dump(mode="json"), data)


def new_event(stream: UUID, model: type[EventData], **fields: Any) -> NewEvent:
    """Validate ``fields`` with ``model`` and return the event with its canonical JSON data."""
    return event_of(stream, validate(model, **fields))


def require_reason(reason: str, what: str = "this step") -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise refusal("REASON_REQUIRED", f"{what} needs a reason")


def require_aware(now: datetime) -> datetime:
    format_utc(now)  # raises TIMEZONE_REQUIRED on a naive datetime
    return now


def when(envelope: Envelope) -> datetime:
    """When the event happened: the device's ``occurred_at`` if given, else ``recorded_at``."""
    return parse_utc(envelope.get("occurred_at") or envelope["recorded_at"])


def as_uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
