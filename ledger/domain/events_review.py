"""Event data of review by exception: QA's e-signed dispositions of exceptions, acknowledgement of
informational ones, and deviations (see ``ledger.domain.exceptions``).

``ExceptionDispositioned`` and ``InformationalAcknowledged`` live on the case stream of the
exceptions they close (an exception without a case, a security item, on the ledger's
``review`` stream); ``DeviationOpened`` / ``DeviationClosed`` on the deviation's own stream
(``ledger.streams.deviation_stream``). None is ever corrected: a disposition changes only by
QA's next record.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field

from ..datatypes import EventData, Identifier
from .events_case import CoiId, Reason
from .spec import EventSpec, NotExported, Signature

Classification = Literal["no_impact", "deviation", "product_impact"]
ExceptionId = Annotated[str, Field(min_length=3, max_length=100, pattern=r"^[a-z_]+:[0-9a-fA-F-]{36}$")]
EventHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
DeviationId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")]


class ExceptionDispositioned(EventData):
    """QA's disposition of one exception, e-signed ``reviewed``; ``event_hash`` is the hash of the
    event that opened it, so the signature covers exactly what was reviewed."""

    exception_id: ExceptionId
    event_hash: EventHash
    classification: Classification
    comment: Reason
    deviation_id: DeviationId | None = None


class InformationalAcknowledged(EventData):
    """QA acknowledges informational exceptions as a group (unknown and wrong-purpose scans,
    security items): each is dispositioned ``no_impact``."""

    exception_ids: Annotated[list[ExceptionId], Field(min_length=1, max_length=500)]
    comment: Reason | None = None


class DeviationOpened(EventData):
    """A deviation opened by QA (for exceptions classified ``deviation``)."""

    deviation_id: DeviationId
    title: Reason
    coi: CoiId | None = None
    case: UUID | None = None
    """The case stream of ``coi``: the deviation belongs to that case, so site scope is the case's
    (``ledger.domain.scope.owner_case``)."""
    exception_ids: Annotated[list[ExceptionId], Field(max_length=500)] = []


class DeviationClosed(EventData):
    """A deviation closed with its CAPA reference; e-signed ``approved``."""

    deviation_id: DeviationId
    capa: Identifier
    outcome: Reason


REVIEW_EVENTS: dict[str, type[EventData]] = {
    m.__name__: m for m in (ExceptionDispositioned, InformationalAcknowledged, DeviationOpened, DeviationClosed)
}

REVIEW = NotExported("QA's review of the ledger's own exceptions, not a supply-chain event")

REVIEW_SPECS: tuple[EventSpec[Any], ...] = (
    EventSpec(ExceptionDispositioned, ("qa",),
              lambda d: f"exception {d.exception_id} dispositioned {d.classification}"
                        + (f" (deviation {d.deviation_id})" if d.deviation_id else "") + f": {d.comment}",
              REVIEW, correctable=False, signature=Signature.required("reviewed")),
    EventSpec(InformationalAcknowledged, ("qa",),
              lambda d: f"{len(d.exception_ids)} informational exception(s) acknowledged"
                        + (f": {d.comment}" if d.comment else ""),
              REVIEW, correctable=False, signature=Signature.optional("reviewed")),
    EventSpec(DeviationOpened, ("qa",),
              lambda d: f"deviation {d.deviation_id} opened: {d.title}"
                        + (f" ({len(d.exception_ids)} exception(s))" if d.exception_ids else ""),
              REVIEW, correctable=False, signature=Signature.optional("authored")),
    EventSpec(DeviationClosed, ("qa",),
              lambda d: f"deviation {d.deviation_id} closed, CAPA {d.capa}: {d.outcome}",
              REVIEW, correctable=False, signature=Signature.required("approved")),
)
