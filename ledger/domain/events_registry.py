"""Event data of the identity registries: users, sites, devices (admin actions audited).

Password hashes and wrapped signing keys are never in events: they live in the service's
mutable credentials table. Events record only that a password was set and when it expires.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field
from stdnum import ean

from ..datatypes import EventData, Identifier, UtcTime
from .events_case import Name, Reason
from .spec import UNSIGNED, EventSpec, NotExported

Role = Literal["admin", "courier", "operator", "qa", "clinician", "auditor", "integrator", "device",
               "program_manager"]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("values must not repeat")
    return values


def _gln(value: str) -> str:
    if len(value) != 13 or not ean.is_valid(value):
        raise ValueError("a GLN is 13 digits with a valid GS1 check digit")
    return value


Roles = Annotated[list[Role], Field(min_length=1, max_length=8), AfterValidator(_unique)]
Sites = Annotated[list[Identifier], Field(max_length=100), AfterValidator(_unique)]


class UserCreated(EventData):
    user: Identifier
    printed_name: Name
    roles: Roles
    sites: Sites = []


class UserRolesChanged(EventData):
    user: Identifier
    roles: Roles
    sites: Sites = []
    previous_roles: list[Role] = []
    previous_sites: list[Identifier] = []


class UserDeactivated(EventData):
    user: Identifier
    reason: Reason


class PasswordSet(EventData):
    user: Identifier
    expires_at: UtcTime | None = None
    by_admin: bool = False


class PasswordChanged(EventData):
    """The user changed their own password after proving the current one (the e-signature key
    is kept, re-wrapped under the new password)."""

    user: Identifier
    expires_at: UtcTime | None = None


class PasswordReset(EventData):
    """An administrator set a temporary password: until the user changes it, a sign-in gives a
    token that may only change the password."""

    user: Identifier
    reason: Reason


class AccessDenied(EventData):
    """A failed sign-in; ``attempt`` is the count of consecutive bad passwords so far. Failures
    beyond the sign-in throttle's limits are refused before they are checked, so never recorded."""

    user: Identifier
    reason: Literal["bad_password", "locked", "deactivated", "password_expired", "no_password"]
    attempt: Annotated[int, Field(ge=0)]


class UserAuthenticated(EventData):
    """Recorded only for a success after failures: it resets the consecutive count."""

    user: Identifier
    after_failures: Annotated[int, Field(ge=1)]


class UserLocked(EventData):
    """Written by ledgers before sign-in throttling (the 5th bad password locked the account);
    still folded, and lifted by ``UserUnlocked``."""

    user: Identifier
    attempts: Annotated[int, Field(ge=1)]
    reason: Reason


class UserUnlocked(EventData):
    """An administrator lifted a lock and ended the account's sign-in back-off."""

    user: Identifier
    reason: Reason


class SiteRegistered(EventData):
    site: Identifier
    name: Name
    kind: Literal["hospital", "manufacturing", "courier_hub"]
    gln: Annotated[str, AfterValidator(_gln)] | None = None


class DeviceRegistered(EventData):
    device: Identifier
    kind: Literal["scanner", "logger", "integration"]
    site: Identifier


class DeviceDeactivated(EventData):
    device: Identifier
    reason: Reason


REGISTRY_EVENTS: dict[str, type[EventData]] = {
    m.__name__: m
    for m in (UserCreated, UserRolesChanged, UserDeactivated, PasswordSet, PasswordChanged, PasswordReset,
              AccessDenied,
              UserAuthenticated, UserLocked, UserUnlocked, SiteRegistered, DeviceRegistered,
              DeviceDeactivated)
}

IDENTITY = NotExported("identity and access records: master data, not supply-chain visibility")
"""Registry events are recorded by the administrator's routes (or the ledger at sign-in), not
posted as events: their ``roles`` are ``()``, and none is ``correctable`` (a wrong role or site
is changed by ``UserRolesChanged``, never by rewriting history)."""

REGISTRY_SPECS: tuple[EventSpec[Any], ...] = (
    EventSpec(UserCreated, (), lambda d: f"user {d.user} ({d.printed_name}) created with roles "
                                         f"{', '.join(d.roles)}", IDENTITY, sites=lambda d: d.sites,
              correctable=False, signature=UNSIGNED),
    EventSpec(UserRolesChanged, (), lambda d: f"user {d.user} roles {', '.join(d.previous_roles)} -> "
                                              f"{', '.join(d.roles)}", IDENTITY, sites=lambda d: d.sites,
              correctable=False, signature=UNSIGNED),
    EventSpec(UserDeactivated, (), lambda d: f"user {d.user} deactivated", IDENTITY, correctable=False,
              signature=UNSIGNED),
    EventSpec(PasswordSet, (), lambda d: f"password set for {d.user}", IDENTITY, correctable=False, signature=UNSIGNED),
    EventSpec(PasswordChanged, (), lambda d: f"password changed by {d.user}", IDENTITY, correctable=False,
              signature=UNSIGNED),
    EventSpec(PasswordReset, (), lambda d: f"temporary password set for {d.user}: change required", IDENTITY,
              correctable=False, signature=UNSIGNED),
    EventSpec(AccessDenied, (), lambda d: f"access denied to {d.user} ({d.reason}, attempt {d.attempt})",
              IDENTITY, correctable=False, signature=UNSIGNED),
    EventSpec(UserAuthenticated, (), lambda d: f"{d.user} signed in after {d.after_failures} failure(s)",
              IDENTITY, correctable=False, signature=UNSIGNED),
    EventSpec(UserLocked, (), lambda d: f"user {d.user} locked after {d.attempts} attempts", IDENTITY,
              correctable=False, signature=UNSIGNED),
    EventSpec(UserUnlocked, (), lambda d: f"user {d.user} unlocked", IDENTITY, correctable=False, signature=UNSIGNED),
    EventSpec(SiteRegistered, (), lambda d: f"site {d.site} ({d.name}) registered", IDENTITY, correctable=False,
              signature=UNSIGNED),
    EventSpec(DeviceRegistered, (), lambda d: f"{d.kind} device {d.device} registered at {d.site}", IDENTITY,
              correctable=False, signature=UNSIGNED),
    EventSpec(DeviceDeactivated, (), lambda d: f"device {d.device} deactivated", IDENTITY, correctable=False,
              signature=UNSIGNED),
)
