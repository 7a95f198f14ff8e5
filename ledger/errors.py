"""Typed errors of the ledger.

Every refusal carries a stable machine ``code`` (the API passes it through as the
problem's ``code``) and a human ``detail``. Codes are part of the public contract:
never rename one.
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Base of every refusal the ledger gives. ``status`` is the HTTP status an API should use."""

    code = "LEDGER_ERROR"
    status = 400

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


class InvalidEvent(LedgerError):
    """The submission is malformed: refused before anything is written."""

    code = "INVALID_EVENT"
    status = 422


class UnknownEventType(InvalidEvent):
    code = "UNKNOWN_EVENT_TYPE"


class PayloadTooLarge(InvalidEvent):
    code = "PAYLOAD_TOO_LARGE"
    status = 413


class StreamConflict(LedgerError):
    """Optimistic concurrency: the stream moved on since the caller read it."""

    code = "STREAM_CONFLICT"
    status = 409


class StreamNotFound(LedgerError):
    code = "STREAM_NOT_FOUND"
    status = 404


class IdempotencyKeyReused(LedgerError):
    """The same idempotency key was used before with a different request."""

    code = "IDEMPOTENCY_KEY_REUSED"
    status = 409


class DeviceSignatureRefused(LedgerError):
    """A device signature is missing, malformed, from an unknown or revoked key, or wrong."""

    code = "DEVICE_SIGNATURE_INVALID"
    status = 422


class DeviceNonceReused(LedgerError):
    """A device submission carries a nonce its device used before: a replay."""

    code = "DEVICE_NONCE_REUSED"
    status = 409


class RuleViolation(LedgerError):
    """An operational check (21 CFR 11.10(f)) refused the step; ``code`` names the rule."""

    code = "RULE_VIOLATION"
    status = 409


class Unauthorised(LedgerError):
    code = "UNAUTHORISED"
    status = 401


class Forbidden(LedgerError):
    code = "FORBIDDEN"
    status = 403


class StorageUnavailable(LedgerError):
    """The database cannot be reached; the caller may retry later."""

    code = "STORAGE_UNAVAILABLE"
    status = 503


class TooManyAttempts(LedgerError):
    """Sign-in throttled (too many failed attempts from this client or for this account);
    ``retry_after`` (seconds) says when to try again."""

    code = "TOO_MANY_ATTEMPTS"
    status = 429
