"""Who is fit to e-sign (21 CFR 11.10(i), 11.100(b), 11.100(c)): pure folds, decisions, the gate.

A person may e-sign only once (1) an administrator has verified their identity, (2) they have
acknowledged the signature policy (:data:`SIGNATURE_POLICY_TEXT`, at its current version), and
(3) each of their roles that requires a qualification (:data:`REQUIRED_TRAINING`, configurable
as ``LEDGER_REQUIRED_TRAINING``) has a current ``TrainingRecorded`` of its curriculum.
:func:`require_fit_to_sign` is the one check, made when a signature is prepared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from uuid import UUID

from ..datatypes import EventData
from ..errors import Forbidden
from .base import Envelope, NewEvent, new_event, refusal, require_aware
from .events_qualification import IdentityVerified, SignaturePolicyAcknowledged, TrainingRecorded
from .events_registry import ROLES
from .folding import fold
from .users import UserState

PART11_ESIGN = "part11-esign"
REQUIRED_TRAINING: Mapping[str, str] = {"qa": PART11_ESIGN, "clinician": PART11_ESIGN, "operator": PART11_ESIGN}
"""Default: the curriculum each role needs a current qualification in before its holder e-signs."""


def training_policy(table: Mapping[str, str] | None) -> dict[str, str]:
    """``table`` (``None``: :data:`REQUIRED_TRAINING`), refusing a role the ledger does not know."""
    table = REQUIRED_TRAINING if table is None else table
    unknown = set(table) - set(ROLES)
    if unknown:
        raise ValueError(f"required training names unknown roles: {', '.join(sorted(unknown))}")
    return dict(table)


SIGNATURE_POLICY_VERSION = "1"
SIGNATURE_POLICY_TEXT = (
    "I acknowledge that my electronic signature in this ledger, executed with my user id and "
    "password, is the legally binding equivalent of my traditional handwritten signature "
    "(21 CFR 11.100(c)). I will not share my password and will report its compromise at once."
)
SIGNATURE_POLICY_SHA256 = hashlib.sha256(SIGNATURE_POLICY_TEXT.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Qualification:
    """What the user's stream records of their fitness to sign."""

    stream: UUID | None = None
    version: int = 0
    identity_verified: bool = False
    policy_versions: frozenset[str] = frozenset()
    training: tuple[TrainingRecorded, ...] = ()

    def current_training(self, curriculum: str, today: date) -> bool:
        return any(t.curriculum == curriculum and t.completed_on <= today
                   and (t.expires_on is None or t.expires_on > today) for t in self.training)


def _evolve(q: Qualification, event: EventData, _: Envelope) -> Qualification:
    match event:
        case IdentityVerified():
            return replace(q, identity_verified=True)
        case SignaturePolicyAcknowledged(policy_version=version):
            return replace(q, policy_versions=q.policy_versions | {version})
        case TrainingRecorded():
            return replace(q, training=(*q.training, event))
    return q


def fold_qualification(envelopes: Iterable[Envelope]) -> Qualification:
    """Folded from the user's stream (``ledger.streams.user_stream``)."""
    return fold(Qualification(), _evolve, envelopes)


def require_fit_to_sign(user: UserState, qualification: Qualification, now: datetime,
                        required_training: Mapping[str, str] = REQUIRED_TRAINING) -> None:
    """Refuse (403) an e-signature by ``user`` unless identity verified (``IDENTITY_NOT_VERIFIED``),
    the current signature policy acknowledged (``SIGNATURE_POLICY_NOT_ACKNOWLEDGED``) and every
    qualification their roles require current at ``now`` (``TRAINING_REQUIRED``)."""
    require_aware(now)
    if not qualification.identity_verified:
        raise Forbidden(f"the identity of {user.user_id} has not been verified: an administrator "
                        "records it before they may e-sign", code="IDENTITY_NOT_VERIFIED")
    if SIGNATURE_POLICY_VERSION not in qualification.policy_versions:
        raise Forbidden(f"{user.user_id} has not acknowledged the e-signature policy "
                        f"v{SIGNATURE_POLICY_VERSION}: POST /v1/auth/acknowledge-signature-policy",
                        code="SIGNATURE_POLICY_NOT_ACKNOWLEDGED")
    lapsed = unqualified_roles(user, qualification, now, required_training)
    if lapsed:
        missing = sorted({required_training[role] for role in lapsed})
        raise Forbidden(f"{user.user_id} has no current training in {', '.join(missing)}, required by "
                        f"their role(s) {', '.join(lapsed)}", code="TRAINING_REQUIRED")


def unqualified_roles(user: UserState, qualification: Qualification, now: datetime,
                      required_training: Mapping[str, str] = REQUIRED_TRAINING) -> tuple[str, ...]:
    """The roles of ``user`` whose required curriculum has no current training at ``now``: they
    may not be used to write or sign until it is recorded."""
    return tuple(role for role in user.roles if (curriculum := required_training.get(role))
                 and not qualification.current_training(curriculum, now.date()))


def _require_person(user: UserState) -> None:
    if user.user_id is None:
        raise refusal("USER_NOT_FOUND", "no such user")
    if user.deactivated:
        raise refusal("USER_DEACTIVATED", f"user {user.user_id} is deactivated")


def decide_record_training(user: UserState, *, curriculum: str, version: str, completed_on: date,
                           trainer: str, expires_on: date | None, actor: str, now: datetime) -> list[NewEvent]:
    """Nobody records their own training (``SELF_TRAINING``); completion lies in the past."""
    require_aware(now)
    _require_person(user)
    if actor == user.user_id:
        raise refusal("SELF_TRAINING", "a person's training is recorded by someone else (admin or QA)")
    if completed_on > now.date():
        raise refusal("TRAINING_IN_FUTURE", f"completed_on {completed_on.isoformat()} lies in the future")
    if expires_on is not None and expires_on <= completed_on:
        raise refusal("TRAINING_EXPIRY_BEFORE_COMPLETION", "expires_on must follow completed_on")
    return [_event(user, TrainingRecorded, curriculum=curriculum, version=version, completed_on=completed_on,
                   trainer=trainer, expires_on=expires_on)]


def decide_verify_identity(user: UserState, *, document_type: str, actor: str, now: datetime) -> list[NewEvent]:
    """An administrator other than the user saw their identity document (``SELF_VERIFICATION``)."""
    require_aware(now)
    _require_person(user)
    if actor == user.user_id:
        raise refusal("SELF_VERIFICATION", "a person's identity is verified by someone else")
    return [_event(user, IdentityVerified, document_type=document_type, verified_by=actor)]


def decide_acknowledge_policy(user: UserState, qualification: Qualification, *, policy_version: str,
                              text_sha256: str, actor: str, now: datetime) -> list[NewEvent]:
    """The user (the caller has checked their password) acknowledges the current policy text:
    a stale version or a hash of another text is ``SIGNATURE_POLICY_MISMATCH``."""
    require_aware(now)
    _require_person(user)
    if actor != user.user_id:
        raise refusal("NOT_YOUR_ACKNOWLEDGEMENT", "only the user acknowledges their own signature policy")
    if (policy_version, text_sha256) != (SIGNATURE_POLICY_VERSION, SIGNATURE_POLICY_SHA256):
        raise refusal("SIGNATURE_POLICY_MISMATCH", f"the current policy is v{SIGNATURE_POLICY_VERSION} "
                      f"with SHA-256 {SIGNATURE_POLICY_SHA256}: GET /v1/auth/signature-policy")
    if policy_version in qualification.policy_versions:
        raise refusal("NO_CHANGE", f"{user.user_id} already acknowledged policy v{policy_version}")
    return [_event(user, SignaturePolicyAcknowledged, policy_version=policy_version, text_sha256=text_sha256)]


def _event(user: UserState, model: type[EventData], **fields) -> NewEvent:
    return new_event(user.stream, model, user=user.user_id, **fields)
