"""Case commands: enrolment (patient and donor), hold, resume, cancel, allocation, and QA's reviews
of a case's audit trail and of the whole log."""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from pydantic import Field

from ..domain import case as cases
from ..domain import log_review
from ..domain.events_case import (
    AuditTrailReviewed,
    CaseCancelled,
    CaseEnrolled,
    CaseOnHold,
    CaseResumed,
    DonorRegistered,
    Position,
    ProductAllocated,
    Reason,
    TherapyKind,
)
from ..domain.events_case import Name as ProductName
from ..domain.events_ledger import AuditLogReviewed
from ..domain.identifiers import issue_coi
from ..streams import case_stream, ledger_stream
from .commands import Data, Ident, Name, Secret, command
from .executor import Context, Executor, SignOff, Step
from .steps import Commands

R = TypeVar("R")
LOG_REVIEWS = ledger_stream("log-reviews")


class Enrol(Data):
    kind: TherapyKind = Field(description="autologous (the patient's own cells) or allogeneic (a donor's)")
    product: ProductName = Field(description="the therapy's product name")
    treating_site: Ident = Field(description="the site that treats the patient (a registered site id)")
    mrn: Secret = Field(description="patient record number: pseudonymised on arrival, never stored")
    collection_site: Ident | None = Field(None,
        description="where the material is collected, when not the treating site")
    protocol: Name | None = Field(None, description="the clinical protocol or study, if any")


class Donor(Data):
    product: ProductName = Field(description="the allogeneic product made from this donor's material")
    collection_site: Ident = Field(description="where the donor's material is collected (a registered site id)")
    donor_id: Secret = Field(description="donor identifier: pseudonymised on arrival, never stored")
    din: Name | None = Field(None,
        description="the ISBT 128 donation identification number (13 characters), if the donation has one")


class WithReason(Data):
    reason: Reason = Field(description="why (shown in the audit trail)")


class Allocate(Data):
    donor_coi: Name = Field(description="the donor case's COI id that the unit comes from")
    unit_id: UUID = Field(
        description="the donor-derived dose (a released unit of the donor case) given to this patient")


@functools.lru_cache(maxsize=1024)  # one HMAC per enrolment otherwise; derivable from master anyway
def site_secret(master: bytes, site: str) -> bytes:
    """The per-site pseudonymisation key: HMAC-SHA256(master secret, site id).

    One master secret (``LEDGER_SITE_SECRET``) yields a distinct key per treating site, so a
    patient's pseudonym at one hospital cannot be linked to one at another."""
    return hmac.new(master, f"site:{site}".encode(), hashlib.sha256).digest()


class AuditTrailReview(Data):
    through_position: Position = Field(
        description="the global log position the review reached (a write's position; at most the ledger's last)")
    comment: Reason | None = Field(None, description="the reviewer's findings, if any (no patient data)")


class AuditLogReview(Data):
    from_position: Position = Field(
        description="the first log position reviewed: at most one past where the previous review ended (1 at first)")
    through_position: Position = Field(
        description="the last log position reviewed (at least from_position; at most the ledger's last)")
    comment: Reason | None = Field(None, description="the reviewer's findings, if any (no patient data)")


class CaseService(Commands[R]):
    def __init__(self, executor: Executor, master_secret: bytes,
                 run: Callable[[Step], R] | None = None) -> None:
        super().__init__(executor, run or executor.run)  # type: ignore[arg-type]
        self.master_secret = master_secret

    def pseudonym_key(self, site: str) -> bytes:
        return site_secret(self.master_secret, site)

    @command(CaseEnrolled, target="none", request=Enrol, site_field="treating_site")
    def enrol(
        self, ctx: Context, *, kind: str, product: str, treating_site: str, mrn: str,
        collection_site: str | None = None, protocol: str | None = None,
    ) -> R:
        """Enrol a patient; the MRN becomes a keyed pseudonym here and is then forgotten."""
        coi = issue_coi()

        def decide(reads, now, actor):
            stream = case_stream(coi)
            return cases.decide_enrol(
                reads.issued_case(stream), case_id=stream, kind=kind, product=product,
                treating_site=treating_site, site_secret=self.pseudonym_key(treating_site), mrn=mrn,
                collection_site=collection_site, protocol=protocol, coi=coi, actor=actor, now=now,
            )

        return self.command(ctx, decide, answer=lambda events: {"coi": events[0].data["coi"]})

    @command(DonorRegistered, target="none", request=Donor)
    def register_donor(
        self, ctx: Context, *, product: str, collection_site: str, donor_id: str, din: str | None = None
    ) -> R:
        coi = issue_coi()

        def decide(reads, now, actor):
            stream = case_stream(coi)
            return cases.decide_register_donor(
                reads.issued_case(stream), case_id=stream, product=product, collection_site=collection_site,
                site_secret=self.pseudonym_key(collection_site), donor_id=donor_id, din=din, coi=coi,
                actor=actor, now=now,
            )

        return self.command(ctx, decide, answer=lambda events: {"coi": events[0].data["coi"]})

    @command(CaseOnHold, target="coi", request=WithReason)
    def hold(self, ctx: Context, coi: str, reason: str) -> R:
        return self.command(ctx, lambda r, now, actor: cases.decide_hold(
            r.case(case_stream(coi)), reason, actor=actor, now=now))

    @command(CaseResumed, target="coi", request=WithReason)
    def resume(self, ctx: Context, coi: str, reason: str) -> R:
        return self.command(ctx, lambda r, now, actor: cases.decide_resume(
            r.case(case_stream(coi)), reason, actor=actor, now=now))

    @command(CaseCancelled, target="coi", request=WithReason)
    def cancel(self, ctx: Context, coi: str, reason: str) -> R:
        return self.command(ctx, lambda r, now, actor: cases.decide_cancel(
            r.case(case_stream(coi)), reason, actor=actor, now=now))

    @command(ProductAllocated, target="coi", request=Allocate, target_arg="patient_coi")
    def allocate(self, ctx: Context, *, patient_coi: str, donor_coi: str, unit_id: UUID) -> R:
        return self.command(ctx, lambda r, now, actor: cases.decide_allocate(
            r.case(case_stream(patient_coi)), r.case(case_stream(donor_coi)), r.unit(unit_id),
            actor=actor, now=now))

    @command(AuditTrailReviewed, target="coi", request=AuditTrailReview)
    def review_audit_trail(self, ctx: Context, *, coi: str, through_position: int, signoff: SignOff | None,
                           comment: str | None = None) -> R:
        """Record QA's e-signed review of the case's audit trail (Annex 11 §9)."""
        return self.command(ctx, lambda r, now, actor: cases.decide_review_audit_trail(
            r.case(case_stream(coi)), through_position=through_position, last_position=r.ledger.last_position(),
            comment=comment, esign=signoff.manifestation if signoff else None,
            signer=signoff.signer if signoff else None, actor=actor, now=now), signoff=signoff)

    @command(AuditLogReviewed, target="none", request=AuditLogReview)
    def review_audit_log(self, ctx: Context, *, from_position: int, through_position: int,
                         signoff: SignOff | None, comment: str | None = None) -> R:
        """Record QA's e-signed review of the whole audit trail over a range of positions (Annex 11
        §9). Only a principal bound to no site may record it (``ledger.services.scope``)."""
        return self.command(ctx, lambda r, now, actor: log_review.decide_review_audit_log(
            r.envelopes(LOG_REVIEWS), LOG_REVIEWS, from_position=from_position, through_position=through_position,
            last_position=r.ledger.last_position(), comment=comment,
            esign=signoff.manifestation if signoff else None, signer=signoff.signer if signoff else None,
            actor=actor, now=now), signoff=signoff)
