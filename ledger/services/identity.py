"""Users, sign-in, Part 11 sign-off, sites and devices.

Admin actions are events (the audit trail shows who created, changed, reset or unlocked
whom); secrets live in the credential store. Every failed sign-in of a known id, including one
made to sign a record, is recorded as ``AccessDenied``; failures are throttled per client and per
account (``sign_in_throttle``), never turned into a lock. Unknown ids cost the same password
verification and get the same answer as a wrong password.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cached_property

from ..domain import credentials as creds
from ..domain import qualification as qual
from ..domain import registry as reg
from ..domain import users
from ..domain.esign import Manifestation, sign_record
from ..errors import Forbidden, InvalidEvent, RuleViolation, Unauthorised
from ..store.application import EsignIntent
from ..streams import user_stream
from .credential_store import Credential, CredentialStore
from .executor import Context, Executor, Outcome, Reads, SignOff, provisional
from .sign_in_throttle import Attempt, SignInThrottle
from .steps import Commands

log = logging.getLogger("ledger.sign_in")

# Codes that mean "who are you?" rather than "you may not": the API answers 401.
AUTHENTICATION_CODES = frozenset({"INVALID_CREDENTIALS", "PASSWORD_NOT_SET", "USER_DEACTIVATED", "WRONG_PASSWORD"})


class IdentityService(Commands[Outcome]):
    """Always run (never a step of a batch): credentials are stored once the events are."""

    def __init__(
        self,
        executor: Executor,
        store: CredentialStore,
        *,
        params: creds.Argon2Params = creds.DEFAULT_PARAMS,
        password_days: int | None = None,
        password_min_length: int = creds.MIN_PASSWORD,
        throttle: SignInThrottle | None = None,
        unknown_failed: Callable[[str, str | None], None] | None = None,
        required_training: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(executor, executor.run)
        self.store = store
        self.params = params
        self.password_days = password_days
        self.password_min_length = password_min_length
        self.throttle = throttle
        self.unknown_failed = unknown_failed  # (keyed digest, client): counted, see services.operations
        self.required_training = qual.training_policy(required_training)

    def check_password_policy(self, password: str, user_id: str, *hints: str | None) -> None:
        creds.check_password_policy(password, user_id=user_id, min_length=self.password_min_length,
                                    hints=[h for h in hints if h])

    def _expiry(self, now: datetime) -> datetime | None:
        return now + timedelta(days=self.password_days) if self.password_days else None

    # ------------------------------------------------------------------ users

    def create_user(
        self, ctx: Context, *, user_id: str, printed_name: str, roles: Sequence[str],
        sites: Sequence[str] = (), password: str,
    ) -> Outcome:
        self.check_password_policy(password, user_id, printed_name)
        wrapped, public_key, key_id = creds.new_signing_key(password, params=self.params)

        def decide(reads: Reads, now: datetime, actor: str):
            user = reads.user(user_id)
            created = users.decide_create_user(
                user, user_id=user_id, printed_name=printed_name, roles=list(roles),
                sites=list(sites), actor=actor, now=now,
            )
            return created + self._password_and_key(reads, user_id, created, key_id, public_key, actor, now)

        outcome = self.command(ctx, decide, answer=lambda _: {"user_id": user_id})
        if not outcome.result.replayed:
            self.store.put(Credential(user_id, creds.hash_password(password, self.params), wrapped))
        return outcome

    def _password_and_key(self, reads, user_id, earlier, key_id, public_key, actor, now, *, reset_reason=None):
        stream = reads.envelopes(user_stream(user_id))
        state = users.fold_user(provisional(stream, earlier, actor=actor, now=now))
        if reset_reason is None:
            password = users.decide_set_password(state, expires_at=self._expiry(now), actor=actor, now=now)
        else:
            password = users.decide_reset_password(state, reset_reason, actor=actor, now=now)
        return password + self._issue_key(reads, user_id, earlier + password, key_id, public_key, actor, now)

    def _issue_key(self, reads, user_id, earlier, key_id, public_key, actor, now):
        """The one way a personal e-signature key is issued (creation, reset, re-issue, a password
        change after a revocation): the events of ``users.decide_issue_signing_key`` after
        ``earlier`` (new events of the same command)."""
        stream = reads.envelopes(user_stream(user_id))
        state = users.fold_user(provisional(stream, earlier, actor=actor, now=now))
        return users.decide_issue_signing_key(state, key_id=key_id, public_key=public_key, actor=actor, now=now)

    def reset_password(self, ctx: Context, *, user_id: str, password: str, reason: str) -> Outcome:
        """An admin sets a temporary password, which the user must change at the next sign-in
        (``PasswordReset``). The old wrapped key cannot be opened without the old password, so a
        new e-signature key is issued and the old one revoked."""
        self.check_password_policy(password, user_id, self.user(user_id).printed_name)
        wrapped, public_key, key_id = creds.new_signing_key(password, params=self.params)
        outcome = self.command(ctx, lambda reads, now, actor: self._password_and_key(
            reads, user_id, [], key_id, public_key, actor, now, reset_reason=reason))
        self.store.put(Credential(user_id, creds.hash_password(password, self.params), wrapped))
        return outcome

    def change_password(self, ctx: Context, *, current: str, new: str, client: str | None = None) -> Outcome:
        """The signed-in user (``ctx.actor``) replaces their password, proving the current one
        (a sign-in attempt: throttled, a failure recorded). The e-signature key is kept,
        re-wrapped under the new password, so earlier signatures stay valid; a revoked key is
        replaced by a new one instead."""
        user_id = ctx.actor
        user = self.authenticate(user_id, current, client=client)
        self.check_password_policy(new, user_id, user.printed_name)
        if new == current:
            raise InvalidEvent("the new password must differ from the current one", code="WEAK_PASSWORD")
        credential = self._credential(user_id)
        if self._key_active(user, credential):
            wrapped = creds.rewrap(credential.wrapped_key, current, new, params=self.params)
            public_key = None
        else:
            wrapped, public_key, _ = creds.new_signing_key(new, params=self.params)

        def decide(reads: Reads, now: datetime, actor: str):
            changed = users.decide_change_password(reads.user(user_id), expires_at=self._expiry(now),
                                                   actor=actor, now=now)
            if public_key is None:
                return changed
            return changed + self._issue_key(reads, user_id, changed, wrapped.key_id, public_key, actor, now)

        outcome = self.command(ctx, decide)
        self.store.put(Credential(user_id, creds.hash_password(new, self.params), wrapped))
        return outcome

    def _credential(self, user_id: str) -> Credential:
        credential = self.store.get(user_id)
        if credential is None:
            raise Unauthorised("no password is set for this user", code="PASSWORD_NOT_SET")
        return credential

    @staticmethod
    def _key_active(user: users.UserState, credential: Credential) -> bool:
        """Whether the stored (wrapped) key is the user's active e-signature key."""
        key = user.key(credential.wrapped_key.key_id)
        return key is not None and key.active

    def revoke_signing_key(self, ctx: Context, *, user_id: str, reason: str) -> Outcome:
        """Revoke the user's active e-signature key (``UserSigningKeyRevoked``, 21 CFR 11.300(d)).

        The user cannot sign (``SIGNING_KEY_REVOKED``) until a new key is issued under their
        password: :meth:`issue_signing_key`, or at the next password change or reset. Who may
        revoke whose key is the caller's rule (``api.authority.authorise_account``)."""
        return self.command(ctx, lambda r, now, actor: users.decide_revoke_signing_key(
            r.user(user_id), None, reason, actor=actor, now=now))

    def issue_signing_key(self, ctx: Context, *, password: str, client: str | None = None) -> Outcome:
        """The signed-in user (``ctx.actor``) gets a new e-signature key, wrapped under their
        password, which they prove (a sign-in attempt: throttled, a failure recorded). Any active
        key is revoked as superseded. No one else can: the private key is wrapped with the
        user's password (an administrator resets the password instead)."""
        user_id = ctx.actor
        self.authenticate(user_id, password, client=client)
        credential = self._credential(user_id)
        wrapped, public_key, key_id = creds.new_signing_key(password, params=self.params)
        outcome = self.command(ctx, lambda reads, now, actor: self._issue_key(
            reads, user_id, [], key_id, public_key, actor, now), answer=lambda _: {"key_id": key_id})
        self.store.put(Credential(user_id, credential.password_hash, wrapped))
        return outcome

    def change_roles(self, ctx: Context, *, user_id: str, roles: Sequence[str],
                     sites: Sequence[str] | None = None) -> Outcome:
        return self.command(ctx, lambda r, now, actor: users.decide_change_roles(
            r.user(user_id), roles=list(roles), sites=None if sites is None else list(sites),
            actor=actor, now=now))

    def deactivate(self, ctx: Context, *, user_id: str, reason: str) -> Outcome:
        return self.command(ctx, lambda r, now, actor: users.decide_deactivate_user(
            r.user(user_id), reason, actor=actor, now=now))

    def unlock(self, ctx: Context, *, user_id: str, reason: str) -> Outcome:
        return self.command(ctx, lambda r, now, actor: users.decide_unlock(
            r.user(user_id), reason, actor=actor, now=now))

    def user(self, user_id: str) -> users.UserState:
        return Reads(self.executor.ledger).user(user_id)

    def qualification(self, user_id: str) -> qual.Qualification:
        return qual.fold_qualification(Reads(self.executor.ledger).envelopes(user_stream(user_id)))

    # ------------------------------------------------------------ sign-in

    @cached_property
    def _unknown_user_hash(self) -> str:
        """A hash of a random password, verified for ids without credentials: the same work."""
        return creds.hash_password(secrets.token_urlsafe(16), self.params)

    def authenticate(self, user_id: str, password: str, *, client: str | None = None) -> users.UserState:
        """Check ``user_id``/``password`` (``client``: the caller's address, for the throttle).

        Raises ``TooManyAttempts`` while the client or the account is backed off; otherwise
        exactly one password verification, whether or not the id exists, and every failure
        raises ``INVALID_CREDENTIALS`` (recorded as ``AccessDenied`` for a known id)."""
        attempt = None
        if self.throttle is not None:
            attempt = self.throttle.attempt(client, user_id, self.user(user_id).unlocks)
            self.throttle.check(attempt)
        credential = self.store.get(user_id)
        if credential is None and attempt is not None:
            self._unknown_id_failed(attempt, client)
        stored = credential.password_hash if credential is not None else self._unknown_user_hash
        ok = creds.verify_password(stored, password) and credential is not None
        seen: dict[str, users.UserState] = {}

        def decide(reads: Reads, now: datetime, actor: str):
            seen["user"] = reads.user(user_id)
            return users.authenticate(seen["user"], ok, now)

        try:  # a failure is appended as AccessDenied by the executor, then raised
            self.command(Context(actor=user_id), decide)
        except RuleViolation as refused:
            refused.extra.pop("recorded_event", None)  # the answer must not tell that an event was recorded
            if attempt is not None:
                self.throttle.failed(attempt)
            raise
        return seen["user"]

    def _unknown_id_failed(self, attempt: Attempt, client: str | None) -> None:
        """A trace that never holds the typed id: a log line and the window's count."""
        digest = attempt.account.split(":")[0]
        log.warning("failed sign-in for an unknown id (keyed digest %s) from %s", digest,
                    client or "an unknown client")
        if self.unknown_failed is not None:
            self.unknown_failed(digest, client)

    def signoff(self, *, user_id: str, password: str, meaning: str) -> SignOff:
        """Re-authenticate (both components, 11.200) and prepare a Part 11 signature."""
        signer = self.authenticate(user_id, password)
        if users.password_change_due(signer, self.clock()):  # a temporary password is known to an admin
            raise Forbidden("the signer must change their password before signing", code="PASSWORD_CHANGE_REQUIRED")
        qual.require_fit_to_sign(signer, self.qualification(user_id), self.clock(), self.required_training)
        credential = self.store.get(user_id)
        if credential is None:
            raise Unauthorised("no signing key for this user", code="PASSWORD_NOT_SET")
        if not self._key_active(signer, credential):
            raise Forbidden("the signer's e-signature key is revoked: sign in and issue a new one "
                            "(POST /v1/auth/signing-key)", code="SIGNING_KEY_REVOKED")
        private_key = creds.unwrap_signing_key(credential.wrapped_key, password)
        manifestation = Manifestation(
            signer=user_id, printed_name=signer.printed_name or user_id, meaning=meaning,
            signed_at=self.clock(), key_id=credential.wrapped_key.key_id,
        )
        intent = EsignIntent(
            signer=user_id, printed_name=manifestation.printed_name, meaning=meaning,
            key_id=manifestation.key_id, sign=lambda digest: sign_record(private_key, digest),
        )
        return SignOff(manifestation, signer, intent)

    # ------------------------------------------------------- sites, devices

    def register_site(self, ctx: Context, *, site_id: str, name: str, kind: str,
                      gln: str | None = None) -> Outcome:
        return self.command(ctx, lambda r, now, actor: reg.decide_register_site(
            r.site(site_id), site_id=site_id, name=name, kind=kind, gln=gln, actor=actor, now=now))

    def register_device(self, ctx: Context, *, device_id: str, kind: str, site: str) -> Outcome:
        return self.command(ctx, lambda r, now, actor: reg.decide_register_device(
            r.device(device_id), r.site(site), device_id=device_id, kind=kind, actor=actor, now=now))

    def register_device_key(self, ctx: Context, *, device_id: str, key_id: str, public_key: str) -> Outcome:
        return self.command(ctx, lambda r, now, actor: reg.decide_register_device_key(
            r.device(device_id), key_id=key_id, public_key=public_key, actor=actor, now=now))

    def revoke_device_key(self, ctx: Context, *, device_id: str, key_id: str, reason: str) -> Outcome:
        return self.command(ctx, lambda r, now, actor: reg.decide_revoke_device_key(
            r.device(device_id), key_id, reason, actor=actor, now=now))

    def device(self, device_id: str) -> reg.DeviceState:
        return Reads(self.executor.ledger).device(device_id)
