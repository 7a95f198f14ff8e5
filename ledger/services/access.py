"""Access tokens as use cases: long-lived tokens for devices and integrator accounts (an event
each), revocation (an event each), a person's session refreshed within its absolute limit.

The ``TokenIssued`` event is appended before the token row exists, so no usable token is ever
unrecorded; a revocation takes effect (the row) before its ``TokenRevoked`` is appended, so a
failed append never leaves a token live that the caller meant to end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..domain import tokens as domain
from ..errors import Forbidden, InvalidEvent, StreamNotFound, Unauthorised
from .executor import Context, Executor, Outcome, Reads, Step
from .token_store import TokenRecord, TokenStore, new_token_id


@dataclass(frozen=True)
class TokenPolicy:
    """``LEDGER_TOKEN_MINUTES``, ``LEDGER_SESSION_MAX_HOURS``, ``LEDGER_TOKEN_MAX_DAYS``."""

    token_minutes: int = 60
    session_max_hours: int = 12
    max_days: int = 365


DEFAULT_TOKEN_POLICY = TokenPolicy()


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once
    record: TokenRecord


class AccessService:
    def __init__(self, executor: Executor, store: TokenStore, policy: TokenPolicy = DEFAULT_TOKEN_POLICY) -> None:
        self.executor = executor
        self.store = store
        self.policy = policy

    def issue_long_lived(self, ctx: Context, *, device: str | None = None, user: str | None = None,
                         days: int, label: str | None = None) -> IssuedToken:
        """A token for a device or an integrator account, for ``days`` (at most the policy's)."""
        if (device is None) == (user is None):
            raise InvalidEvent("name exactly one of device or user", code="INVALID_DATA")
        if not 1 <= days <= self.policy.max_days:
            raise InvalidEvent(f"a token lives 1 to {self.policy.max_days} days (LEDGER_TOKEN_MAX_DAYS)",
                               code="TOKEN_LIFETIME_TOO_LONG")
        token_id = new_token_id()
        expires_at = self.executor.clock() + timedelta(days=days)

        def decide(reads: Reads, now: datetime, _actor: str):
            holder = reads.device(device) if device is not None else reads.user(user or "")
            return domain.decide_issue_long_lived(holder, token_id=token_id, expires_at=expires_at, label=label,
                                                  now=now)

        outcome = self.executor.run(Step(ctx, decide))
        issued = outcome.events[0].data
        token, record = self.store.issue_record(issued["principal"], issued["kind"], expires_at=expires_at,
                                                label=label, token_id=token_id)
        return IssuedToken(token, record)

    def token(self, token_id: str) -> TokenRecord:
        record = self.store.by_id(token_id)
        if record is None:
            raise StreamNotFound(f"no token {token_id}", code="TOKEN_NOT_FOUND")
        return record

    def revoke(self, ctx: Context, *, token_id: str, reason: str) -> Outcome:
        """End the token ``token_id`` now, and record it (``TokenRevoked``)."""
        record = self.token(token_id)
        domain.require_revocable(token_id=token_id, revoked=record.revoked, reason=reason)
        if not self.store.revoke_id(token_id):  # revoked meanwhile
            domain.require_revocable(token_id=token_id, revoked=True, reason=reason)
        return self.executor.run(Step(ctx, lambda _reads, now, _actor: domain.decide_revoke_token(
            token_id=record.token_id, principal=record.principal, kind=record.kind, expires_at=record.expires_at,
            label=record.label, reason=reason, now=now)))

    def refresh(self, token: str) -> IssuedToken:
        """A person's live token for a new one of the same session; the old one is revoked."""
        record = self.store.lookup(token)
        if record is None:
            raise Unauthorised("the token is unknown", code="INVALID_TOKEN")
        if record.kind != "user":
            raise Forbidden("only a person's sign-in token is refreshed; devices and integrators hold "
                            "long-lived tokens", code="NOT_REFRESHABLE")
        limit = timedelta(hours=self.policy.session_max_hours)
        if record.session_started_at + limit <= self.executor.clock():
            raise Unauthorised("the session has reached its absolute limit: sign in again", code="SESSION_EXPIRED")
        refreshed = self.store.refresh(token, ttl=timedelta(minutes=self.policy.token_minutes), session_limit=limit)
        if refreshed is None:
            raise Unauthorised("the token is expired, revoked or already refreshed", code="INVALID_TOKEN")
        return IssuedToken(*refreshed)
