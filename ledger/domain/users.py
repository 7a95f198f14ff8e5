"""The user registry: one stream per user id (``ledger.streams.user_stream``).

User ids are never reused (21 CFR 11.100): any event in a user's stream makes the id taken,
even after deactivation. Failed sign-ins are events (``AccessDenied``); failed attempts never
lock the account (``ledger.services.sign_in_throttle`` backs off instead), and every failure
gets the same answer. A temporary (reset) or expired password must be changed before anything
else (:func:`password_change_due`).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from ..datatypes import EventData
from ..errors import InvalidEvent
from ..keys.keyevents import UserSigningKeyIssued, UserSigningKeyRevoked
from ..streams import user_stream
from .base import (
    Envelope,
    NewEvent,
    RecordedRefusal,
    new_event,
    refusal,
    require_aware,
    require_reason,
)
from .credentials import key_id_of
from .events_registry import (
    AccessDenied,
    PasswordChanged,
    PasswordReset,
    PasswordSet,
    UserAuthenticated,
    UserCreated,
    UserDeactivated,
    UserLocked,
    UserRolesChanged,
    UserUnlocked,
)
from .folding import fold


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    public_key: str
    active: bool = True


@dataclass(frozen=True)
class UserState:
    stream: UUID | None = None
    version: int = 0
    user_id: str | None = None
    printed_name: str | None = None
    roles: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    deactivated: bool = False
    locked: bool = False
    failed_attempts: int = 0
    unlocks: int = 0
    password_set: bool = False
    password_expires_at: datetime | None = None
    temporary_password: bool = False
    keys: tuple[SigningKey, ...] = ()

    @property
    def active(self) -> bool:
        return self.user_id is not None and not self.deactivated and not self.locked

    def key(self, key_id: str) -> SigningKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)

    @property
    def signing_key(self) -> SigningKey | None:
        """The active e-signature key (at most one: issuing one supersedes the others)."""
        return next((k for k in reversed(self.keys) if k.active), None)


def _evolve(s: UserState, event: EventData, _: Envelope) -> UserState:
    match event:
        case UserCreated(user=user, printed_name=printed_name, roles=roles, sites=sites):
            return replace(s, user_id=user, printed_name=printed_name, roles=tuple(roles),
                           sites=tuple(sites))
        case UserRolesChanged(roles=roles, sites=sites):
            return replace(s, roles=tuple(roles), sites=tuple(sites))
        case UserDeactivated():
            return replace(s, deactivated=True)
        case PasswordSet(expires_at=expires_at) | PasswordChanged(expires_at=expires_at):
            return replace(s, password_set=True, password_expires_at=expires_at, temporary_password=False)
        case PasswordReset():
            return replace(s, password_set=True, password_expires_at=None, temporary_password=True)
        case AccessDenied(attempt=attempt):
            return replace(s, failed_attempts=attempt)
        case UserAuthenticated():
            return replace(s, failed_attempts=0)
        case UserLocked():
            return replace(s, locked=True)
        case UserUnlocked():
            return replace(s, locked=False, failed_attempts=0, unlocks=s.unlocks + 1)
        case UserSigningKeyIssued(key_id=key_id, public_key=public_key):
            return replace(s, keys=(*s.keys, SigningKey(key_id, public_key)))
        case UserSigningKeyRevoked(key_id=key_id):
            return replace(s, keys=revoke_key(s.keys, key_id))
    return s


def revoke_key(keys: tuple[SigningKey, ...], key_id: str) -> tuple[SigningKey, ...]:
    return tuple(replace(k, active=False) if k.key_id == key_id else k for k in keys)


def fold_user(envelopes: Iterable[Envelope]) -> UserState:
    return fold(UserState(), _evolve, envelopes)


def _require_user(user: UserState) -> None:
    if user.user_id is None:
        raise refusal("USER_NOT_FOUND", "no such user")


def _require_not_deactivated(user: UserState) -> None:
    _require_user(user)
    if user.deactivated:
        raise refusal("USER_DEACTIVATED", f"user {user.user_id} is deactivated")


RESERVED_USER_IDS = frozenset({"system"})
"""Actors the ledger itself writes as (CLI, bootstrap, demo journeys): never a person's id."""


def decide_create_user(user: UserState, *, user_id: str, printed_name: str,
                       roles: Sequence[str], sites: Sequence[str] = (), actor: str,
                       now: datetime) -> list[NewEvent]:
    """``user`` is the state folded from ``user_stream(user_id)`` (empty for a new id)."""
    require_aware(now)
    if user_id.casefold() in RESERVED_USER_IDS:
        raise InvalidEvent(f"user id {user_id!r} is reserved for the ledger itself", code="RESERVED_ID")
    if user.version:
        raise refusal("USER_ID_TAKEN", f"user id {user_id!r} was already used")
    return [new_event(user_stream(user_id), UserCreated, user=user_id,
                      printed_name=printed_name, roles=list(roles), sites=list(sites))]


def decide_change_roles(user: UserState, *, roles: Sequence[str],
                        sites: Sequence[str] | None = None, actor: str,
                        now: datetime) -> list[NewEvent]:
    require_aware(now)
    _require_not_deactivated(user)
    new_sites = tuple(sites) if sites is not None else user.sites
    if set(roles) == set(user.roles) and set(new_sites) == set(user.sites):
        raise refusal("NO_CHANGE", f"user {user.user_id} already has these roles and sites")
    return [new_event(user.stream, UserRolesChanged, user=user.user_id, roles=list(roles),
                      sites=list(new_sites), previous_roles=list(user.roles),
                      previous_sites=list(user.sites))]


def decide_deactivate_user(user: UserState, reason: str, *, actor: str,
                           now: datetime) -> list[NewEvent]:
    """Deactivate the user and revoke their active signing keys; the id stays taken."""
    require_aware(now)
    _require_not_deactivated(user)
    require_reason(reason)
    events = [new_event(user.stream, UserDeactivated, user=user.user_id, reason=reason)]
    events += [new_event(user.stream, UserSigningKeyRevoked, user=user.user_id,
                         key_id=k.key_id, reason="user deactivated")
               for k in user.keys if k.active]
    return events


def decide_set_password(user: UserState, *, expires_at: datetime | None, by_admin: bool = False,
                        actor: str, now: datetime) -> list[NewEvent]:
    """Records that a password was set (the hash goes to the credentials table, not here)."""
    require_aware(now)
    _require_not_deactivated(user)
    return [new_event(user.stream, PasswordSet, user=user.user_id, expires_at=expires_at,
                      by_admin=by_admin)]


def decide_change_password(user: UserState, *, expires_at: datetime | None, actor: str,
                           now: datetime) -> list[NewEvent]:
    """The user changes their own password (the caller has checked the current one)."""
    require_aware(now)
    _require_not_deactivated(user)
    if actor != user.user_id:
        raise refusal("NOT_YOUR_PASSWORD", "only the user may change their password; an admin resets it")
    return [new_event(user.stream, PasswordChanged, user=user.user_id, expires_at=expires_at)]


def decide_reset_password(user: UserState, reason: str, *, actor: str, now: datetime) -> list[NewEvent]:
    """An administrator sets a temporary password, to be changed at the next sign-in."""
    require_aware(now)
    _require_not_deactivated(user)
    require_reason(reason)
    return [new_event(user.stream, PasswordReset, user=user.user_id, reason=reason)]


def password_change_due(user: UserState, now: datetime) -> bool:
    """A temporary (reset) or expired password: the user may only change it."""
    expired = user.password_expires_at is not None and user.password_expires_at <= now
    return user.temporary_password or expired


SIGN_IN_FAILED = "wrong user id or password"


def authenticate(user: UserState, verify_ok: bool, now: datetime) -> list[NewEvent]:
    """Decide a sign-in whose password check (``verify_password``) gave ``verify_ok``.

    Returns the events of a success (``UserAuthenticated`` only after failures, to reset the
    count; else nothing); an expired or temporary password is a success too (see
    :func:`password_change_due`). Every failure raises the same ``INVALID_CREDENTIALS``, whatever
    the cause, so the answer never tells which ids exist or their state; for a known id it is a
    :class:`RecordedRefusal` whose ``AccessDenied`` records the cause.
    """
    require_aware(now)
    if user.user_id is None:
        raise refusal("INVALID_CREDENTIALS", SIGN_IN_FAILED)

    def denied(reason: str, attempt: int) -> RecordedRefusal:
        event = new_event(user.stream, AccessDenied, user=user.user_id, reason=reason, attempt=attempt)
        return RecordedRefusal(SIGN_IN_FAILED, code="INVALID_CREDENTIALS", events=[event])

    failures = user.failed_attempts
    if user.deactivated:
        raise denied("deactivated", failures)
    if user.locked:  # a lock recorded before sign-in throttling, until an admin unlocks it
        raise denied("locked", failures)
    if not user.password_set:
        raise denied("no_password", failures)
    if not verify_ok:
        raise denied("bad_password", failures + 1)
    if failures:
        return [new_event(user.stream, UserAuthenticated, user=user.user_id,
                          after_failures=failures)]
    return []


def decide_unlock(user: UserState, reason: str, *, actor: str, now: datetime) -> list[NewEvent]:
    """Lift a recorded lock, if any, and end the account's sign-in back-off (the throttle's
    account key holds the unlock count)."""
    require_aware(now)
    _require_not_deactivated(user)
    require_reason(reason)
    return [new_event(user.stream, UserUnlocked, user=user.user_id, reason=reason)]


def decide_issue_signing_key(user: UserState, *, key_id: str, public_key: str, actor: str,
                             now: datetime) -> list[NewEvent]:
    """Register the user's new e-signature key (from ``credentials.new_signing_key``);
    any key still active is revoked as superseded: one active key per user."""
    require_aware(now)
    _require_not_deactivated(user)
    if user.key(key_id) is not None:
        raise refusal("KEY_ALREADY_REGISTERED", f"key {key_id} is already registered")
    issued = new_event(user.stream, UserSigningKeyIssued, user=user.user_id, key_id=key_id,
                       public_key=public_key)
    if key_id_of(base64.b64decode(public_key)) != key_id:
        raise refusal("UNKNOWN_KEY", "key_id is not the SHA-256 prefix of this public key")
    revoked = [new_event(user.stream, UserSigningKeyRevoked, user=user.user_id,
                         key_id=k.key_id, reason="superseded") for k in user.keys if k.active]
    return [*revoked, issued]


def decide_revoke_signing_key(user: UserState, key_id: str | None, reason: str, *, actor: str,
                              now: datetime) -> list[NewEvent]:
    """Revoke one of the user's e-signature keys (``key_id``; ``None``: the active one), e.g. on a
    suspected compromise (21 CFR 11.300(d)). The user cannot sign until a new key is issued;
    signatures made before stay valid (a key is valid until the revocation is recorded)."""
    require_aware(now)
    _require_user(user)
    if key_id is None:
        if user.signing_key is None:
            raise refusal("KEY_REVOKED", f"user {user.user_id} has no active signing key")
        key_id = user.signing_key.key_id
    key = user.key(key_id)
    if key is None:
        raise refusal("UNKNOWN_KEY", f"user {user.user_id} has no key {key_id}")
    if not key.active:
        raise refusal("KEY_REVOKED", f"key {key_id} is already revoked")
    require_reason(reason)
    return [new_event(user.stream, UserSigningKeyRevoked, user=user.user_id, key_id=key_id,
                      reason=reason)]
