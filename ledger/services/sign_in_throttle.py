"""Sign-in throttling: failed attempts counted per client address and per account.

A temporary, self-expiring back-off instead of a lock an anonymous caller could trigger: once a
client or an account has used up its failed attempts in a window (``LEDGER_SIGN_IN_CLIENT_LIMITS``,
``LEDGER_SIGN_IN_ACCOUNT_LIMITS``, moving windows of the ``limits`` library), further attempts are
refused with :class:`TooManyAttempts` before any password is checked or any event recorded, until
the window has moved on. So a flood of bad passwords records at most the account limit's number of
``AccessDenied`` events per window, and never deactivates or locks the account or ends its sessions.

* Counts live in ``LEDGER_RATE_LIMIT_STORAGE``: ``memory://`` (one process) or ``redis://...``
  (shared by every worker).
* The account key is a keyed digest (HMAC-SHA256 under a sub-key of the site secret) of the typed
  id, so unknown ids are throttled exactly like real ones and the storage never holds a user id.
* The key also holds the account's unlock count (``UserUnlocked`` events), so an administrator's
  unlock, recorded in the ledger, ends the back-off in every process whatever the storage.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from ..errors import StorageUnavailable, TooManyAttempts


@dataclass(frozen=True)
class Attempt:
    """Who is trying: the client's address (None when unknown, e.g. an e-signature in a batch)
    and the account, as the key :meth:`SignInThrottle.attempt` built."""

    client: str | None
    account: str


class SignInThrottle:
    def __init__(self, storage_uri: str, *, client_limits: str, account_limits: str, key: bytes) -> None:
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri, wrap_exceptions=True))
        self.client_limits: list[RateLimitItem] = parse_many(client_limits)
        self.account_limits: list[RateLimitItem] = parse_many(account_limits)
        self._key = key

    def attempt(self, client: str | None, user_id: str, generation: int) -> Attempt:
        digest = hmac.new(self._key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
        return Attempt(client, f"{digest}:{generation}")

    def _counters(self, attempt: Attempt) -> list[tuple[RateLimitItem, str]]:
        counters = [(limit, f"sign-in:account:{attempt.account}") for limit in self.account_limits]
        if attempt.client:
            counters += [(limit, f"sign-in:client:{attempt.client}") for limit in self.client_limits]
        return counters

    def check(self, attempt: Attempt) -> None:
        """Raise :class:`TooManyAttempts` (with ``retry_after`` seconds) if a counter is spent."""
        try:
            spent = [(limit, key) for limit, key in self._counters(attempt) if not self.limiter.test(limit, key)]
            if not spent:
                return
            resets = [self.limiter.get_window_stats(limit, key).reset_time for limit, key in spent]
        except StorageError as exc:
            raise StorageUnavailable("the sign-in throttle's storage is unavailable") from exc
        retry_after = max(1, math.ceil(max(resets) - time.time()))
        raise TooManyAttempts(f"too many failed sign-in attempts; retry in {retry_after} s",
                              retry_after=retry_after)

    def failed(self, attempt: Attempt) -> None:
        """Count one failed attempt against the client and the account."""
        try:
            for limit, key in self._counters(attempt):
                self.limiter.hit(limit, key)
        except StorageError as exc:
            raise StorageUnavailable("the sign-in throttle's storage is unavailable") from exc
