"""POST /v1/scans: scan-to-verify at every handoff.

The raw scan (what a keyboard-wedge scanner types) is parsed, resolved to a unit and COI,
checked against what is expected for the step, and recorded as ``UnitScanned`` (the parsed
identifiers of a matched unit; the text itself only as kind, length and keyed digest). A mismatch
at a COI-critical step (collection, release, infusion) is recorded and refused (COI_MISMATCH).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ledger.domain.events_unit import ScanPurpose
from ledger.errors import InvalidEvent
from ledger.streams import unit_stream
from ledger.timefmt import format_utc
from projections.identifiers_query import lookup_identifier
from scanners.parse import parse_scan

from ..container import Container
from ..deps import ContainerDep, IdempotencyKey, Scanner, context_for
from ..requests import BackfillReason, Ident, Name
from ..schemas import PROBLEMS, Receipt

router = APIRouter(prefix="/v1", tags=["scans"], responses=PROBLEMS)

Purpose = ScanPurpose


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit_id: UUID | None = Field(None, description="the unit this step expects (a scan of another unit is a mismatch)")
    coi: Name | None = Field(None,
        description="the COI id this step expects (for an allogeneic recipient, the patient's COI or the donor's)")


class ScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    raw: str = Field(min_length=1, max_length=4096, description="exactly what the scanner typed")
    purpose: Purpose = Field(description=(
        "the step the scan is for: verify (look up only), collection, pack, unpack, handover, receipt, "
        "dispatch, delivery, manufacturing, qc, release, storage, infusion, disposal; a mismatch at "
        "collection, release or infusion is recorded and refused (COI_MISMATCH)"))
    location: Ident | None = Field(None, description="where the scan happens (site id)")
    expect: Expectation | None = Field(None, description="what the step expects; omitted: the scan is only looked up")
    site: Ident | None = Field(None, description="the site recorded with the scan event")
    occurred_at: AwareDatetime | None = Field(None, description="when it happened (RFC 3339 with zone)")
    backfill_reason: BackfillReason = None


class ParseError(BaseModel):
    code: str = Field(description="why the scan was not read (scanners.model.ERROR_CODES)")
    message: str
    position: int | None = Field(
        None, description="0-based character offset into `raw` where the problem lies; null when no single place")


class ScanResponse(BaseModel):
    scheme: str
    identifiers: list[dict[str, Any]]
    errors: list[ParseError]
    unit_id: str | None
    coi: str | None = Field(description="the COI of the unit scanned or read from the scan; never the expected one")
    verdict: str
    reason: str | None
    event: Receipt


def resolve(container: Container, identifiers: dict[str, str]) -> UUID | None:
    """The unit a scan names: our own label directly, other identifiers (DIN, GS1 serial, EPC)
    through the identifier index of the labels (only when exactly one unit carries it)."""
    if "unit_label" in identifiers:
        return unit_stream(identifiers["unit_label"])
    with container.engine.connect() as conn:
        for kind, value in identifiers.items():
            if kind in ("coi", "expiry", "isbt_expiry"):
                continue
            found = {row["unit_id"] for row in lookup_identifier(conn, value)}
            if len(found) == 1:
                return UUID(found.pop())
    return None


@router.post("/scans", status_code=201, response_model=ScanResponse, summary="Scan to verify (recorded)")
def scan(body: ScanRequest, principal: Scanner, container: ContainerDep,
         idempotency_key: IdempotencyKey = None) -> ScanResponse:
    result = parse_scan(body.raw)
    parsed = {i.kind: i.value for i in result.identifiers}
    expect = body.expect or Expectation()
    expected_coi = expect.coi or (parsed.get("coi") if "unit_label" not in parsed else None)
    unit_id = resolve(container, parsed)
    errors = [ParseError(code=e.code, message=e.message, position=e.position) for e in result.errors]
    if unit_id is None and expected_coi is None:
        reasons = "; ".join(e.message for e in result.errors) or "no unit matches these identifiers"
        raise InvalidEvent(f"scan not recognised: {reasons}", code="UNKNOWN_IDENTIFIER",
                           parse_errors=[e.model_dump() for e in errors])
    ctx = context_for(principal, site=body.site, occurred_at=format_utc(body.occurred_at) if body.occurred_at else None,
                      idempotency_key=idempotency_key, request_body=body.model_dump(mode="json"), route="/v1/scans",
                      backfill_reason=body.backfill_reason)
    outcome = container.services.units.scan(
        ctx, unit_id=unit_id, raw=result.raw, kind=result.scheme, purpose=body.purpose, parsed=parsed,
        expected_coi=expected_coi, expected_unit=expect.unit_id, location=body.location)
    recorded = outcome.result.answer
    receipt = outcome.result.receipts[0]
    unit = container.services.units.state(unit_id) if unit_id else None
    return ScanResponse(
        scheme=result.scheme,
        identifiers=[{"kind": i.kind, "value": i.value} for i in result.identifiers],
        errors=errors,
        unit_id=str(unit_id) if unit_id and unit and unit.version else None,
        coi=unit.coi if unit and unit.version else parsed.get("coi"),  # only what was read
        verdict=recorded["verdict"], reason=recorded.get("reason"),
        event=receipt,
    )
