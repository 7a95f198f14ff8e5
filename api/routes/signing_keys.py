"""Personal e-signature keys (21 CFR 11.300(c), (d)): revoke one after a loss or a suspected
compromise, and issue a new one.

An admin revokes anyone's key, a person their own (``api.authority.authorise_account``). Only the
person can have a new key issued, proving their password, because the private key is wrapped
with it; an admin who must restore someone's signing resets their password instead
(``POST /v1/users/{id}/password``: a new key under the temporary password).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from ..authority import authorise_account
from ..deps import ContainerDep, Principal, PrincipalDep, authorised, client_address, context_for
from ..requests import Ident, Reason, Secret
from ..schemas import PROBLEMS, AppendResponse, append_response

router = APIRouter(prefix="/v1", tags=["auth"], responses=PROBLEMS)
OWN = "manage_own_signing_key"


class SigningKeyRevocation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


@router.post("/users/{user_id}/signing-key/revoke", status_code=201, response_model=AppendResponse,
             summary="Revoke a person's e-signature key (an admin anyone's, a person their own)")
def revoke_signing_key(user_id: Ident, body: SigningKeyRevocation, principal: PrincipalDep,
                       container: ContainerDep) -> AppendResponse:
    """Recorded as ``UserSigningKeyRevoked``. Until a new key is issued the person's signatures are
    refused with ``403 SIGNING_KEY_REVOKED``; signatures made before stay valid."""
    authorise_account(principal, user_id, OWN)
    return append_response(container.services.identity.revoke_signing_key(
        context_for(principal, site=None), user_id=user_id, reason=body.reason))


class SigningKeyIssue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: Secret = Field(description="your password: the new private key is wrapped with it")


@router.post("/auth/signing-key", status_code=201, response_model=AppendResponse,
             summary="Issue yourself a new e-signature key (your active one, if any, is superseded)")
def issue_signing_key(body: SigningKeyIssue, request: Request, container: ContainerDep,
                      principal: Annotated[Principal, Depends(authorised(OWN))]) -> AppendResponse:
    """Recorded as ``UserSigningKeyIssued`` (and ``UserSigningKeyRevoked``, reason "superseded", for a
    key still active); the answer names the new ``key_id``. A wrong password is ``401
    INVALID_CREDENTIALS``, throttled like a sign-in."""
    return append_response(container.services.identity.issue_signing_key(
        context_for(principal, site=None), password=body.password, client=client_address(request)))
