"""Fitness to e-sign (21 CFR 11.10(i), 11.100(b), 11.100(c)): training records, identity
verification, and each person's acknowledgement of the signature policy. Every one is an event on
the user's stream; ``ledger.domain.qualification.require_fit_to_sign`` checks them at every
e-signature."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from ledger.domain import qualification as qual
from ledger.domain.events_qualification import Curriculum, DocumentType, Sha256Hex

from ..deps import Admin, ContainerDep, Principal, authorised, client_address, context_for
from ..requests import Name, Secret
from ..schemas import PROBLEMS, AppendResponse, append_response

router = APIRouter(prefix="/v1", tags=["qualification"], responses=PROBLEMS)

Trainer = Annotated[Principal, Depends(authorised("record_training"))]
Acknowledger = Annotated[Principal, Depends(authorised("acknowledge_signature_policy"))]


class Training(BaseModel):
    model_config = ConfigDict(extra="forbid")
    curriculum: Curriculum = Field(description=f"what was taught, e.g. {qual.PART11_ESIGN!r}")
    version: Annotated[str, Field(min_length=1, max_length=50)] = Field(description="the curriculum's version")
    completed_on: date = Field(description="the day it was completed (not in the future)")
    trainer: Name = Field(description="who taught or assessed it")
    expires_on: date | None = Field(None, description="the day the qualification lapses; none: it does not")


@router.post("/users/{user_id}/training", status_code=201, response_model=AppendResponse,
             summary="Record a user's training (admin or QA; never one's own)")
def record_training(user_id: str, body: Training, principal: Trainer, container: ContainerDep) -> AppendResponse:
    return append_response(container.services.qualification.record_training(
        context_for(principal, site=None), user_id=user_id, **body.model_dump()))


class IdentityVerification(BaseModel):
    """Only the kind of document seen: its number is never taken (an extra field is refused)."""

    model_config = ConfigDict(extra="forbid")
    document_type: DocumentType = Field(description="the kind of identity document the administrator saw")


@router.post("/users/{user_id}/identity-verification", status_code=201, response_model=AppendResponse,
             summary="Record that an administrator verified a user's identity (required before they e-sign)")
def verify_identity(user_id: str, body: IdentityVerification, principal: Admin,
                    container: ContainerDep) -> AppendResponse:
    return append_response(container.services.qualification.verify_identity(
        context_for(principal, site=None), user_id=user_id, document_type=body.document_type))


class SignaturePolicy(BaseModel):
    version: str
    text: str
    text_sha256: str


@router.get("/auth/signature-policy", response_model=SignaturePolicy,
            summary="The e-signature policy each person acknowledges before their first e-signature")
def signature_policy(principal: Acknowledger) -> SignaturePolicy:
    return SignaturePolicy(version=qual.SIGNATURE_POLICY_VERSION, text=qual.SIGNATURE_POLICY_TEXT,
                           text_sha256=qual.SIGNATURE_POLICY_SHA256)


class Acknowledgement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: Secret = Field(description="your password: the acknowledgement is made by the account's holder")
    policy_version: Annotated[str, Field(min_length=1, max_length=50)] = Field(
        description="the version of GET /v1/auth/signature-policy")
    text_sha256: Sha256Hex = Field(description="the SHA-256 (hex) of the policy text shown")


@router.post("/auth/acknowledge-signature-policy", status_code=201, response_model=AppendResponse,
             summary="Acknowledge that your e-signature is the legally binding equivalent of your handwritten one")
def acknowledge_signature_policy(
        body: Acknowledgement, request: Request, container: ContainerDep, principal: Acknowledger) -> AppendResponse:
    return append_response(container.services.qualification.acknowledge_signature_policy(
        context_for(principal, site=None), password=body.password, policy_version=body.policy_version,
        text_sha256=body.text_sha256, client=client_address(request)))
