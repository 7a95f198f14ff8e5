"""Users, sign-in, Part 11 sign-off, sites and devices.

Admin actions are events (the audit trail shows who created, changed, locked or unlocked
whom); secrets live in the credential store. Every failed sign-in, including one made to
sign a record, is recorded as ``AccessDenied``; the 5th in a row locks the account.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from ..domain import credentials as creds
from ..domain import registry as reg
from ..domain import users
from ..domain.esign import Manifestation, sign_record
from ..errors import Unauthorised
from ..store.application import EsignIntent
from ..streams import user_stream
from .credential_store import Credential, CredentialStore
from .executor import Context, Executor, Outcome, Reads, SignOff, provisional
from .steps import Commands

# Codes that mean "who are you?" rather than "you may not": the API answers 401.
AUTHENTICATION_CODES = frozenset({
    "UNKNOWN_USER", "INVALID_CREDENTIALS", "ACCOUNT_LOCKED", "PASSWORD_EXPIRED",
    "PASSWORD_NOT_SET", "USER_DEACTIVATED", "WRONG_PASSWORD",
})


class IdentityService(Commands[Outcome]):
    """Always run (never a step of a batch): credentials are stored once the events are."""

    def __init__(
        self,
        executor: Executor,
        store: CredentialStore,
        *,
        params: creds.Argon2Params = creds.DEFAULT_PARAMS,
        password_days: int | None = None,
    ) -> None:
        super().__init__(executor, executor.run)
        self.store = store
        self.params = params
        self.password_days = password_days

    # ------------------------------------------------------------------ users

    def create_user(
        self, ctx: Context, *, user_id: str, printed_name: str, roles: Sequence[str],
        sites: Sequence[str] = (), password: str,
    ) -> Outcome:
        creds.check_password_policy(password, user_id=user_id)
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

    def _password_and_key(self, reads, user_id, earlier, key_id, public_key, actor, now, *, by_admin=False):
        stream = reads.envelopes(user_stream(user_id))
        state = users.fold_user(provisional(stream, earlier, actor=actor, now=now))
        expires = now + timedelta(days=self.password_days) if self.password_days else None
        password = users.decide_set_password(state, expires_at=expires, by_admin=by_admin,
                                             actor=actor, now=now)
        state = users.fold_user(provisional(stream, earlier + password, actor=actor, now=now))
        key = users.decide_issue_signing_key(state, key_id=key_id, public_key=public_key,
                                             actor=actor, now=now)
        return password + key

    def reset_password(self, ctx: Context, *, user_id: str, password: str) -> Outcome:
        """An admin sets a new password; the old wrapped key cannot be opened without the old
        password, so a new e-signature key is issued and the old one revoked."""
        creds.check_password_policy(password, user_id=user_id)
        wrapped, public_key, key_id = creds.new_signing_key(password, params=self.params)
        outcome = self.command(ctx, lambda reads, now, actor: self._password_and_key(
            reads, user_id, [], key_id, public_key, actor, now, by_admin=True))
        self.store.put(Credential(user_id, creds.hash_password(password, self.params), wrapped))
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

    # ------------------------------------------------------------ sign-in

    def authenticate(self, user_id: str, password: str) -> users.UserState:
        """Check ``user_id``/``password``; failures are recorded and raise with their code."""
        credential = self.store.get(user_id)
        ok = credential is not None and creds.verify_password(credential.password_hash, password)
        seen: dict[str, users.UserState] = {}

        def decide(reads: Reads, now: datetime, actor: str):
            seen["user"] = reads.user(user_id)
            return users.authenticate(seen["user"], ok, now)

        # A failure is appended as AccessDenied (and UserLocked) by the executor, then raised.
        self.command(Context(actor=user_id), decide)
        return seen["user"]

    def signoff(self, *, user_id: str, password: str, meaning: str) -> SignOff:
        """Re-authenticate (both components, 11.200) and prepare a Part 11 signature."""
        signer = self.authenticate(user_id, password)
        credential = self.store.get(user_id)
        if credential is None:
            raise Unauthorised("no signing key for this user", code="PASSWORD_NOT_SET")
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
