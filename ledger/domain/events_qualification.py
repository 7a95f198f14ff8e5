"""Event data of a person's fitness to sign (21 CFR 11.10(i), 11.100(b), 11.100(c)): training,
identity verification and the signature-policy acknowledgement, each on the user's stream.

Identity events: recorded by an administrator's (or, for training, QA's) route or by the user
signing in, never posted as events (``roles`` ``()``), never corrected (a wrong record is
superseded by a new one), not exported to EPCIS.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field

from ..datatypes import EventData, Identifier
from .events_case import Name
from .events_registry import IDENTITY
from .spec import UNSIGNED, EventSpec

Curriculum = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
DocumentType = Literal["passport", "national_id", "driving_licence", "employee_badge"]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class TrainingRecorded(EventData):
    """The user completed ``curriculum`` (at ``version``) on ``completed_on``, taught or assessed
    by ``trainer``; the qualification lapses on ``expires_on`` (none: it does not lapse)."""

    user: Identifier
    curriculum: Curriculum
    version: Annotated[str, Field(min_length=1, max_length=50)]
    completed_on: date
    trainer: Name
    expires_on: date | None = None


class IdentityVerified(EventData):
    """An administrator (``verified_by``) saw the user's identity document of ``document_type``.
    The document's number is never recorded: the model has no field for it."""

    user: Identifier
    document_type: DocumentType
    verified_by: Identifier


class SignaturePolicyAcknowledged(EventData):
    """The user, proving their password, acknowledged that their e-signature is the legally
    binding equivalent of their handwritten signature: the policy ``policy_version`` whose text
    has SHA-256 ``text_sha256``."""

    user: Identifier
    policy_version: Annotated[str, Field(min_length=1, max_length=50)]
    text_sha256: Sha256Hex


QUALIFICATION_EVENTS: dict[str, type[EventData]] = {
    m.__name__: m for m in (TrainingRecorded, IdentityVerified, SignaturePolicyAcknowledged)
}


def _training(d: TrainingRecorded) -> str:
    until = f", valid until {d.expires_on.isoformat()}" if d.expires_on else ""
    return (f"training {d.curriculum} v{d.version} completed by {d.user} on {d.completed_on.isoformat()} "
            f"(trainer {d.trainer}){until}")


QUALIFICATION_SPECS: tuple[EventSpec[Any], ...] = (
    EventSpec(TrainingRecorded, (), _training, IDENTITY, signature=UNSIGNED, correctable=False),
    EventSpec(IdentityVerified, (), lambda d: f"identity of {d.user} verified by {d.verified_by} "
                                              f"({d.document_type.replace('_', ' ')})", IDENTITY,
              signature=UNSIGNED, correctable=False),
    EventSpec(SignaturePolicyAcknowledged, (), lambda d: f"{d.user} acknowledged the e-signature policy "
                                                         f"v{d.policy_version} as binding as a handwritten "
                                                         "signature", IDENTITY, signature=UNSIGNED,
              correctable=False),
)
