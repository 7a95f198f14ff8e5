"""Event data of QA's review sign-off: the e-signed statement that a case's exceptions (and spec
results) were reviewed, which the release of its products then relies on
(``ledger.domain.release``).

``ReviewSignedOff`` lives on the case stream. It lists, exactly, the exceptions of the case's
family as QA saw them when signing (each with the hash of the event that opened it, its state
and classification) and the spec results judged; a later exception, or a change of one listed,
makes the sign-off outdated for release (``REVIEW_OUTDATED``), so a signature never covers what
its signer did not see. It is never corrected: a new sign-off supersedes it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from ..datatypes import Decimal2, EventData, Identifier, Text
from .events_case import CoiId, Reason
from .spec import EventSpec, NotExported, Signature

ReviewedExceptionId = Annotated[str, Field(min_length=3, max_length=100, pattern=r"^[a-z_]+:[0-9a-zA-Z-]{1,64}$")]
EventHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
MAX_LISTED = 1000


class ReviewedException(EventData):
    """One exception as QA reviewed it."""

    exception_id: ReviewedExceptionId
    event_hash: EventHash
    state: Literal["open", "dispositioned"]
    classification: Literal["no_impact", "deviation", "product_impact"] | None = None


class ReviewedSpecResult(EventData):
    """One spec result (QC test, process parameter) as judged when QA signed."""

    name: Identifier
    kind: Literal["qc", "cpp", "cqa"]
    value: Decimal2 | Text | None = None
    uom: Identifier | None = None
    verdict: Literal["within", "out_of_limits", "missing"]


class ReviewSignedOff(EventData):
    """QA's review sign-off of a case (e-signed ``reviewed``): every exception of its family, and
    the spec results, listed as reviewed; ``lot`` names the lot the review was for, if any."""

    coi: CoiId
    exceptions: Annotated[list[ReviewedException], Field(max_length=MAX_LISTED)] = []
    spec_results: Annotated[list[ReviewedSpecResult], Field(max_length=200)] = []
    lot: Identifier | None = None
    comment: Reason | None = None


RELEASE_EVENTS: dict[str, type[EventData]] = {m.__name__: m for m in (ReviewSignedOff,)}


def _signed_off(d: ReviewSignedOff) -> str:
    open_ = sum(1 for e in d.exceptions if e.state == "open")
    text = (f"review of {d.coi} signed off" + (f" for lot {d.lot}" if d.lot else "")
            + f": {len(d.exceptions)} exception(s) ({open_} informational open), {len(d.spec_results)} spec result(s)")
    return text + (f": {d.comment}" if d.comment else "")


RELEASE_SPECS: tuple[EventSpec[Any], ...] = (
    EventSpec(ReviewSignedOff, ("qa",), _signed_off,
              NotExported("QA's review of the ledger's own exceptions, not a supply-chain event"),
              correctable=False, signature=Signature.required("reviewed")),
)
