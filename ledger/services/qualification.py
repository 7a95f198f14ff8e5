"""Training, identity verification and the signature-policy acknowledgement (21 CFR 11.10(i),
11.100(b), 11.100(c)): the records :func:`ledger.domain.qualification.require_fit_to_sign`
checks before every e-signature (``IdentityService.signoff``)."""

from __future__ import annotations

from datetime import date

from ..domain import qualification as qual
from ..streams import user_stream
from .executor import Context, Outcome
from .identity import IdentityService
from .steps import Commands


class QualificationService(Commands[Outcome]):
    def __init__(self, identity: IdentityService) -> None:
        super().__init__(identity.executor, identity.executor.run)
        self.identity = identity

    def record_training(self, ctx: Context, *, user_id: str, curriculum: str, version: str,
                        completed_on: date, trainer: str, expires_on: date | None = None) -> Outcome:
        return self.command(ctx, lambda r, now, actor: qual.decide_record_training(
            r.user(user_id), curriculum=curriculum, version=version, completed_on=completed_on,
            trainer=trainer, expires_on=expires_on, actor=actor, now=now))

    def verify_identity(self, ctx: Context, *, user_id: str, document_type: str) -> Outcome:
        return self.command(ctx, lambda r, now, actor: qual.decide_verify_identity(
            r.user(user_id), document_type=document_type, actor=actor, now=now))

    def acknowledge_signature_policy(self, ctx: Context, *, password: str, policy_version: str,
                                     text_sha256: str, client: str | None = None) -> Outcome:
        """The signed-in user (``ctx.actor``) acknowledges, proving their password (a sign-in
        attempt: throttled, a failure recorded)."""
        self.identity.authenticate(ctx.actor, password, client=client)
        return self._acknowledge(ctx, policy_version=policy_version, text_sha256=text_sha256)

    def _acknowledge(self, ctx: Context, *, policy_version: str, text_sha256: str) -> Outcome:
        return self.command(ctx, lambda r, now, actor: qual.decide_acknowledge_policy(
            r.user(actor), qual.fold_qualification(r.envelopes(user_stream(actor))), policy_version=policy_version,
            text_sha256=text_sha256, actor=actor, now=now))

    def qualify(self, ctx: Context, *, user_id: str, document_type: str = "employee_badge",
                trainer: str = "Part 11 training (seeded)", completed_on: date | None = None) -> None:
        """Everything a demo or test user needs to e-sign, recorded by the set-up (``ctx.actor``,
        the CLI's or the demo's ``system``): identity verified, the trainings their roles require,
        and the policy acknowledged in the user's name without their password (idempotent).
        Never reached from the API: people acknowledge with :meth:`acknowledge_signature_policy`."""
        user = self.identity.user(user_id)
        record = self.identity.qualification(user_id)
        today = self.clock()
        if not record.identity_verified:
            self.verify_identity(ctx, user_id=user_id, document_type=document_type)
        for curriculum in sorted({self.identity.required_training[r] for r in user.roles
                                  if r in self.identity.required_training}):
            if not record.current_training(curriculum, today.date()):
                self.record_training(ctx, user_id=user_id, curriculum=curriculum, version="1",
                                     completed_on=completed_on or today.date(), trainer=trainer)
        if qual.SIGNATURE_POLICY_VERSION not in record.policy_versions:
            self._acknowledge(Context(actor=user_id), policy_version=qual.SIGNATURE_POLICY_VERSION,
                              text_sha256=qual.SIGNATURE_POLICY_SHA256)

