"""Administration: users, sites, devices (long-lived tokens: ``routes/tokens.py``). Every change is an event."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ledger.domain.events_registry import ROLES
from ledger.errors import InvalidEvent
from ledger.keys.sealing import key_id_of, unb64
from ledger.services.executor import Context, Outcome

from ..container import Container
from ..deps import Admin, ContainerDep, IdempotencyKey, context_for
from ..requests import Ident, Name, Reason, Secret
from ..schemas import PROBLEMS, AppendResponse, append_response

router = APIRouter(prefix="/v1", tags=["admin"], responses=PROBLEMS)

Role = Literal[tuple(r for r in ROLES if r != "device")]  # type: ignore[valid-type]  # people: devices register apart


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Ident
    printed_name: Name
    roles: list[Role] = Field(min_length=1, max_length=8)
    sites: list[Name] = Field(default_factory=list, max_length=50)
    password: Secret


@router.post("/users", status_code=201, response_model=AppendResponse, summary="Create a user (ids are never reused)")
def create_user(body: NewUser, principal: Admin, container: ContainerDep,
                idempotency_key: IdempotencyKey = None) -> AppendResponse:
    ctx = context_for(principal, site=None, idempotency_key=idempotency_key,
                      request_body=body.model_dump(exclude={"password"}), route="/v1/users")
    return append_response(container.services.identity.create_user(
        ctx, user_id=body.user_id, printed_name=body.printed_name, roles=body.roles, sites=body.sites,
        password=body.password))


class Unlock(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


@router.post("/users/{user_id}/unlock", status_code=201, response_model=AppendResponse)
def unlock_user(user_id: str, body: Unlock, principal: Admin, container: ContainerDep) -> AppendResponse:
    return append_response(container.services.identity.unlock(context_for(principal, site=None),
                                                              user_id=user_id, reason=body.reason))


class NewSite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site_id: Ident
    name: Name
    kind: Literal["hospital", "manufacturing", "courier_hub"]
    gln: Name | None = None


@router.post("/sites", status_code=201, response_model=AppendResponse)
def register_site(body: NewSite, principal: Admin, container: ContainerDep) -> AppendResponse:
    return append_response(container.services.identity.register_site(
        context_for(principal, site=None), **body.model_dump()))


class NewDevice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device_id: Ident
    kind: Literal["scanner", "logger", "integration"]
    site: Ident
    public_key: str | None = Field(default=None, description="Ed25519 raw public key, standard base64")


@router.post("/devices", status_code=201, response_model=AppendResponse,
             summary="Register a device (and its signing key: its submissions must then be signed)")
def register_device(body: NewDevice, principal: Admin, container: ContainerDep) -> AppendResponse:
    ctx = context_for(principal, site=None)
    identity = container.services.identity
    outcome = identity.register_device(ctx, device_id=body.device_id, kind=body.kind, site=body.site)
    if body.public_key:
        outcome = _register_key(container, ctx, body.device_id, body.public_key)
    return append_response(outcome)


def _register_key(container: Container, ctx: Context, device_id: str, public_key: str) -> Outcome:
    try:
        raw = unb64(public_key)
    except ValueError as exc:
        raise InvalidEvent(str(exc), code="INVALID_DATA") from None
    return container.services.identity.register_device_key(ctx, device_id=device_id, key_id=key_id_of(raw),
                                                           public_key=public_key)


class NewDeviceKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    public_key: str = Field(description="Ed25519 raw public key, standard base64 (its key_id: SHA-256 prefix)")


@router.post("/devices/{device_id}/keys", status_code=201, response_model=AppendResponse,
             summary="Register a new signing key for a device (after a loss or in rotation)")
def register_device_key(device_id: Ident, body: NewDeviceKey, principal: Admin,
                        container: ContainerDep) -> AppendResponse:
    """Recorded as ``DeviceKeyRegistered``; the device's submissions signed with it are accepted
    from now on. Other keys stay as they are: revoke a lost one apart."""
    return append_response(_register_key(container, context_for(principal, site=None), device_id,
                                         body.public_key))


class Deactivation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


@router.post("/users/{user_id}/deactivate", status_code=201, response_model=AppendResponse,
             summary="Deactivate a user (the id stays taken forever; their keys are revoked)")
def deactivate_user(user_id: str, body: Deactivation, principal: Admin, container: ContainerDep) -> AppendResponse:
    outcome = container.services.identity.deactivate(context_for(principal, site=None), user_id=user_id,
                                                     reason=body.reason)
    container.tokens.revoke_all(user_id)
    return append_response(outcome)


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[Role] = Field(min_length=1, max_length=8)
    sites: list[Ident] | None = Field(default=None, max_length=50)


@router.post("/users/{user_id}/roles", status_code=201, response_model=AppendResponse)
def change_roles(user_id: str, body: RoleChange, principal: Admin, container: ContainerDep) -> AppendResponse:
    return append_response(container.services.identity.change_roles(
        context_for(principal, site=None), user_id=user_id, roles=body.roles, sites=body.sites))


class KeyRevocation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


@router.post("/devices/{device_id}/keys/{key_id}/revoke", status_code=201, response_model=AppendResponse,
             summary="Revoke a device key: its later submissions are refused, earlier ones stay valid")
def revoke_device_key(device_id: str, key_id: str, body: KeyRevocation, principal: Admin,
                      container: ContainerDep) -> AppendResponse:
    return append_response(container.services.identity.revoke_device_key(
        context_for(principal, site=None), device_id=device_id, key_id=key_id, reason=body.reason))
