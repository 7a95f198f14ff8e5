"""Review by exception: QA dispositions exceptions, acknowledges informational ones, opens and
closes deviations (``ledger.domain.review``).

An exception id names the event that opened it (``<kind>:<event_id>``); its stream is found
through ``EventStreams`` (the audit trail read model, once it has applied the log so far). The
decision folds that stream and the case stream the dispositions are recorded on (the owner case
of the stream; an exception without a case, a security item, on the ledger's ``review``
stream, which only a principal bound to no site may write).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Literal, TypeVar
from uuid import UUID

from pydantic import Field

from ..domain import review
from ..domain.events_case import CoiId, Reason
from ..domain.events_review import (
    DeviationClosed,
    DeviationId,
    DeviationOpened,
    EventHash,
    ExceptionDispositioned,
    ExceptionId,
    InformationalAcknowledged,
)
from ..domain.exceptions import CaseException, fold_exceptions
from ..domain.scope import owner_case
from ..envelope import envelope_hash
from ..errors import Forbidden
from ..streams import case_stream, deviation_stream, ledger_stream
from .commands import Data, Ident, command
from .executor import Context, Executor, Reads, SignOff, Step
from .steps import Commands

R = TypeVar("R")

EventStreams = Callable[[str], UUID | None]
"""The stream of an event, by event id (None for an unknown id)."""

REVIEW_STREAM = ledger_stream("review")


def no_event_streams(event_id: str) -> UUID | None:
    return None


class Disposition(Data):
    exception_id: ExceptionId = Field(
        description="the exception (`<kind>:<opening event id>`, from GET /v1/exceptions)")
    event_hash: EventHash = Field(
        description="the hash of the event that opened it (`opened_hash`): what was reviewed")
    classification: Literal["no_impact", "deviation", "product_impact"] = Field(
        description="no_impact, deviation (with an open deviation_id) or product_impact")
    comment: Reason = Field(description="QA's rationale (shown with the signature)")
    deviation_id: DeviationId | None = Field(None, description="the open deviation it is handled in")


class Acknowledgement(Data):
    exception_ids: Annotated[list[ExceptionId], Field(min_length=1, max_length=500)] = Field(
        description="informational exceptions (unknown and wrong-purpose scans, security items)")
    comment: Reason | None = Field(None, description="QA's comment")


class OpenDeviation(Data):
    deviation_id: DeviationId = Field(description="the deviation's id (QA's numbering, e.g. DEV-2026-014)")
    title: Reason = Field(description="what deviated")
    coi: CoiId | None = Field(None, description="the case it concerns, if one")
    exception_ids: Annotated[list[ExceptionId], Field(max_length=500)] = Field(
        default_factory=list, description="the exceptions it covers")


class CloseDeviation(Data):
    deviation_id: DeviationId = Field(description="the deviation")
    capa: Ident = Field(description="the CAPA reference")
    outcome: Reason = Field(description="the investigation's outcome")


class ReviewService(Commands[R]):
    def __init__(self, executor: Executor, event_streams: EventStreams = no_event_streams,
                 run: Callable[[Step], R] | None = None) -> None:
        super().__init__(executor, run or executor.run)  # type: ignore[arg-type]
        self.event_streams = event_streams

    def _located(self, reads: Reads, ctx: Context, exception_id: str, now: datetime
                 ) -> tuple[dict[str, CaseException], UUID]:
        """The exceptions of the exception's stream and of its owner's, and the owner stream."""
        stream = self.event_streams(exception_id.partition(":")[2])
        if stream is None:
            raise review.unknown_exception(exception_id)
        envelopes = reads.envelopes(stream)
        case = owner_case(stream, envelopes)
        at = case if case is not None else REVIEW_STREAM
        if case is None and ctx.scope:
            raise Forbidden(f"{exception_id} concerns no case: only QA bound to no site dispositions it",
                            code="SITE_FORBIDDEN")
        streams = list(dict.fromkeys([stream, at]))
        found = fold_exceptions(((env, envelope_hash(env)) for s in streams for env in reads.envelopes(s)), now)
        return found, at

    @command(ExceptionDispositioned, target="none", request=Disposition)
    def disposition(self, ctx: Context, *, exception_id: str, event_hash: str, classification: str, comment: str,
                    signoff: SignOff | None, deviation_id: str | None = None) -> R:
        """QA's e-signed disposition of one exception (``reviewed``)."""

        def decide(r: Reads, now: datetime, actor: str):
            found, at = self._located(r, ctx, exception_id, now)
            deviation = review.fold_deviation(r.envelopes(deviation_stream(deviation_id))) if deviation_id else None
            return review.decide_disposition(
                found, at, exception_id=exception_id, event_hash=event_hash, classification=classification,
                comment=comment, deviation_id=deviation_id, deviation=deviation,
                esign=signoff.manifestation if signoff else None, signer=signoff.signer if signoff else None,
                actor=actor, now=now)

        return self.command(ctx, decide, signoff=signoff)

    @command(InformationalAcknowledged, target="none", request=Acknowledgement)
    def acknowledge(self, ctx: Context, *, exception_ids: Sequence[str], signoff: SignOff | None,
                    comment: str | None = None) -> R:
        """QA acknowledges informational exceptions as a group (each ``no_impact``)."""

        def decide(r: Reads, now: datetime, actor: str):
            found: dict[str, CaseException] = {}
            owners: dict[str, UUID] = {}
            for exception_id in exception_ids:
                located, at = self._located(r, ctx, exception_id, now)
                found.update(located)
                owners[exception_id] = at
            return review.decide_acknowledge(
                found, owners, exception_ids, comment, esign=signoff.manifestation if signoff else None,
                signer=signoff.signer if signoff else None, actor=actor, now=now)

        return self.command(ctx, decide, signoff=signoff)

    @command(DeviationOpened, target="none", request=OpenDeviation)
    def open_deviation(self, ctx: Context, *, deviation_id: str, title: str, coi: str | None = None,
                       exception_ids: Sequence[str] = ()) -> R:
        stream = deviation_stream(deviation_id)
        return self.command(ctx, lambda r, now, actor: review.decide_open_deviation(
            review.fold_deviation(r.envelopes(stream)), stream, deviation_id=deviation_id, title=title,
            case=r.case(case_stream(coi)) if coi else None, exception_ids=exception_ids, actor=actor, now=now))

    @command(DeviationClosed, target="none", request=CloseDeviation)
    def close_deviation(self, ctx: Context, *, deviation_id: str, capa: str, outcome: str,
                        signoff: SignOff | None) -> R:
        """Close a deviation with its CAPA reference (e-signed ``approved``)."""
        stream = deviation_stream(deviation_id)
        return self.command(ctx, lambda r, now, actor: review.decide_close_deviation(
            review.fold_deviation(r.envelopes(stream)), stream, deviation_id=deviation_id, capa=capa,
            outcome=outcome, esign=signoff.manifestation if signoff else None,
            signer=signoff.signer if signoff else None, actor=actor, now=now), signoff=signoff)

    def deviation(self, deviation_id: str) -> review.DeviationState:
        """A deviation as recorded (folded from its stream at the read)."""
        return review.fold_deviation([e.envelope for e in self.executor.ledger.read_stream(
            deviation_stream(deviation_id))])
