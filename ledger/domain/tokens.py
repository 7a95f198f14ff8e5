"""Access tokens as decisions: who may hold a long-lived token, and the events of its issue and
revocation (``events_access``), on the holder's stream.

People sign in (short sessions, ``POST /v1/auth/token``); a long-lived token is only for a
device or an integrator account, a user whose only role is ``integrator``: anyone else could be
impersonated for years by whoever holds the token.
"""

from __future__ import annotations

from datetime import datetime

from ..errors import Forbidden
from ..streams import device_stream, user_stream
from .base import NewEvent, new_event, refusal, require_aware, require_reason
from .events_access import TokenIssued, TokenRevoked
from .registry import DeviceState
from .users import UserState

SERVICE_ROLES = ("integrator",)


def holder_stream(principal: str, kind: str):
    return device_stream(principal) if kind == "device" else user_stream(principal)


def is_service_account(user: UserState) -> bool:
    return bool(user.roles) and set(user.roles) <= set(SERVICE_ROLES)


def decide_issue_long_lived(holder: UserState | DeviceState, *, token_id: str, expires_at: datetime,
                            label: str | None, now: datetime) -> list[NewEvent]:
    require_aware(now)
    if isinstance(holder, DeviceState):
        if holder.device_id is None:
            raise refusal("DEVICE_NOT_FOUND", "no such device")
        if holder.deactivated:
            raise refusal("DEVICE_DEACTIVATED", f"device {holder.device_id} is deactivated")
        principal, kind = holder.device_id, "device"
    else:
        if holder.user_id is None:
            raise refusal("USER_NOT_FOUND", "no such user")
        if not holder.active:
            raise refusal("USER_DEACTIVATED", f"user {holder.user_id} is deactivated or locked")
        if not is_service_account(holder):
            raise Forbidden(f"{holder.user_id} is a person's account (roles {', '.join(holder.roles)}): people "
                            "sign in; long-lived tokens are for devices and integrator accounts",
                            code="PERSON_TOKEN_REFUSED")
        principal, kind = holder.user_id, "integrator"
    return [new_event(holder_stream(principal, kind), TokenIssued, token_id=token_id, principal=principal,
                      kind=kind, expires_at=expires_at, label=label)]


def require_revocable(*, token_id: str, revoked: bool, reason: str) -> None:
    require_reason(reason, "a token revocation")
    if revoked:
        raise refusal("TOKEN_REVOKED", f"token {token_id} is already revoked")


def decide_revoke_token(*, token_id: str, principal: str, kind: str, expires_at: datetime | None,
                        label: str | None, reason: str, now: datetime) -> list[NewEvent]:
    """The record of a revocation (the token row is revoked first: see ``services.access``)."""
    require_aware(now)
    require_reason(reason, "a token revocation")
    return [new_event(holder_stream(principal, kind), TokenRevoked, token_id=token_id, principal=principal,
                      kind=kind, expires_at=expires_at, label=label, reason=reason)]


PRINCIPAL_EVENTS: frozenset[str] = frozenset({
    # a user's state (ledger.domain.users.fold_user)
    "UserCreated", "UserRolesChanged", "UserDeactivated", "PasswordSet", "PasswordChanged", "PasswordReset",
    "AccessDenied", "UserAuthenticated", "UserLocked", "UserUnlocked", "UserSigningKeyIssued",
    "UserSigningKeyRevoked",
    # a device's (ledger.domain.registry.fold_device)
    "DeviceRegistered", "DeviceDeactivated", "DeviceKeyRegistered", "DeviceKeyRevoked",
    # a user's qualification (ledger.domain.qualification.fold_qualification)
    "IdentityVerified", "SignaturePolicyAcknowledged", "TrainingRecorded",
    # the token itself (its row ends first; the event is told too)
    "TokenRevoked",
})
"""The event types a bearer token's principal is resolved from (``api.deps.get_principal``): an
append of one is announced to every process (``ledger.store.notices``), whose cached principals
of that stream are dropped. ``tests/unit/domain/test_principal_events.py`` holds it to the folds."""
