"""Settings from the environment (prefix ``LEDGER_``), refusing default secrets outside dev.

``LEDGER_ENV=dev`` (the default) is the embedded, zero-setup mode: SQLite under ./var, a
sealing key created on first start with a well-known passphrase. Any other value (``test``
too) is production-like and requires every secret to be set to something else, at least 16
characters long.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .domain.witness import WitnessPolicy
from .store.database import DEFAULT_DATABASE_URL, Database

DEV_PASSPHRASE = "dev-only-passphrase"  # noqa: S105
DEV_SITE_SECRET = "dev-only-site-secret"  # noqa: S105
DEV_TOKEN_SECRET = "dev-only-token-secret"  # noqa: S105


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    env: Literal["dev", "test", "production"] = "dev"
    database_url: str = DEFAULT_DATABASE_URL
    keys_dir: Path = Path("var/keys")
    key_passphrase: SecretStr = SecretStr(DEV_PASSPHRASE)
    site_secret: SecretStr = SecretStr(DEV_SITE_SECRET)
    token_secret: SecretStr = SecretStr(DEV_TOKEN_SECRET)
    pool_size: int = 10
    token_minutes: int = 60  # a person's token; refreshed (POST /v1/auth/refresh) within session_max_hours
    session_max_hours: int = Field(12, ge=1)  # a person's session, from sign-in, however often refreshed
    token_max_days: int = Field(365, ge=1, le=3650)  # the longest a device's or integrator's token may live
    password_days: int | None = None  # password expiry (None: never): then a change is required at sign-in
    password_min_length: int = Field(12, ge=8, le=128)
    # Sign-in throttling (ledger/services/sign_in_throttle.py): failed attempts allowed per client address
    # and per account (the `limits` library's notation, several separated by ';'), and where the counts
    # live: memory:// for one process, redis://host:6379 when several workers must share them.
    rate_limit_storage: str = "memory://"
    sign_in_client_limits: str = "20/minute;200/hour"
    sign_in_account_limits: str = "5/minute;30/hour"
    # occurred_at accepted from clients: this far before / after the server time
    occurred_past_days: int = Field(365, ge=0)
    occurred_future_minutes: int = Field(10, ge=0)
    portal_idle_minutes: int = Field(15, gt=0)  # a portal session idle this long is signed out
    # Reached over HTTPS only (`ledger serve --tls-cert`, or a TLS-terminating proxy in front):
    # HSTS on every answer and Secure portal cookies.
    https: bool = False
    # an occurred_at older than this is a backfill: the `backfill` permission and a reason
    backfill_hours: int = Field(72, ge=0)
    # The two-person identity check (ledger/domain/witness.py): the steps a second person witnesses
    # (comma list of labelling, infusion; empty: none) and within how many minutes of the step.
    witness_steps: str = "infusion"
    witness_minutes: int = Field(30, gt=0, le=1440)
    # The curriculum each role needs a current TrainingRecorded of before its holder may e-sign, as
    # JSON, e.g. {"qa": "part11-esign"} ({}: none); unset: ledger.domain.qualification.REQUIRED_TRAINING
    required_training: dict[str, str] | None = None
    run_projections: bool = True  # follow the log in the service process
    insecure_fast_hashing: bool = False  # cheap Argon2 for test suites; refused in production
    # Global log (docs/DESIGN.md "The global log and checkpoints"): the checkpoint origin line, which is
    # also the signed-note key name, so no whitespace and no '+'.
    log_origin: str = Field("coi-ledger.example/log", pattern=r"^[^\s+]+$", max_length=200)
    checkpoint_every_events: int = Field(1000, gt=0)  # sign at least every N new leaves ...
    checkpoint_every_seconds: float = Field(1.0, gt=0)  # ... or T seconds, when there are new leaves
    # Alerts (docs/ALERTS.md): a handover not acknowledged within this many minutes, a unit within this
    # many hours of its expiry; the alert worker's poll (seconds) and whether this process runs one.
    alert_handover_minutes: float = Field(30.0, gt=0, le=10080)
    alert_expiry_hours: float = Field(24.0, ge=0, le=8760)
    alert_poll_seconds: float = Field(0.5, gt=0, le=60)
    alert_worker: bool = True
    # E-mail of raised alerts to the staff of their sites (none without a host).
    smtp_host: str | None = None
    smtp_port: int = Field(587, gt=0, lt=65536)
    smtp_from: str = "ledger-alerts@localhost"
    smtp_tls: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    # Webhooks (docs/WEBHOOKS.md): private/loopback targets are refused unless explicitly allowed (a
    # receiver on the same machine in tests); each attempt's timeout; retries back off exponentially
    # from retry_base up to retry_max seconds, with jitter; a row due for longer than dead_after
    # seconds becomes a dead letter; at most in_flight rows per subscription at once (one per stream).
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = Field(5.0, gt=0, le=60)
    webhook_retry_base_seconds: float = Field(1.0, gt=0)
    webhook_retry_max_seconds: float = Field(300.0, gt=0)
    webhook_dead_after_seconds: float = Field(3 * 24 * 3600.0, gt=0)
    webhook_in_flight: int = Field(16, ge=1, le=256)
    # delivered and cancelled outbox rows (and their attempt log) older than this are deleted;
    # dead letters are kept until replayed or their subscription is deleted
    webhook_retain_days: float = Field(30.0, gt=0)
    run_webhooks: bool = True  # queue and deliver webhooks in the service process (else `ledger deliver`)

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.env == "production" and self.insecure_fast_hashing:
            raise ValueError("LEDGER_INSECURE_FAST_HASHING is for test suites, never production")
        if self.env != "dev":
            defaults = {
                "LEDGER_KEY_PASSPHRASE": (self.key_passphrase, DEV_PASSPHRASE),
                "LEDGER_SITE_SECRET": (self.site_secret, DEV_SITE_SECRET),
                "LEDGER_TOKEN_SECRET": (self.token_secret, DEV_TOKEN_SECRET),
            }
            weak = [
                name
                for name, (value, default) in defaults.items()
                if value.get_secret_value() in ("", default) or len(value.get_secret_value()) < 16
            ]
            if weak:
                raise ValueError(
                    f"refusing to start in {self.env} with default or short secrets: {', '.join(weak)}"
                )
        Database.from_url(self.database_url)
        for limits in (self.sign_in_client_limits, self.sign_in_account_limits):
            parse_many(limits)  # a ValueError names what it cannot read
        self.witness  # noqa: B018 - a ValueError names an unknown step
        return self

    def recorded_values(self) -> dict[str, str | int | float | bool | None]:
        """The security-relevant settings, never a secret: recorded as ``SettingsRecorded`` at
        service start when they differ from the last recorded ones."""
        return {
            "env": self.env, "database": self.database.kind, "token_minutes": self.token_minutes,
            "session_max_hours": self.session_max_hours, "token_max_days": self.token_max_days,
            "password_days": self.password_days, "password_min_length": self.password_min_length,
            "sign_in_client_limits": self.sign_in_client_limits,
            "sign_in_account_limits": self.sign_in_account_limits,
            "occurred_past_days": self.occurred_past_days, "occurred_future_minutes": self.occurred_future_minutes,
            "backfill_hours": self.backfill_hours, "portal_idle_minutes": self.portal_idle_minutes,
            "https": self.https, "insecure_fast_hashing": self.insecure_fast_hashing,
            "witness_steps": ",".join(sorted(self.witness.steps)), "witness_minutes": self.witness_minutes,
        }

    @property
    def witness(self) -> WitnessPolicy:
        """Which steps need a second person's witness, and within how long (``LEDGER_WITNESS_*``)."""
        return WitnessPolicy.parse(self.witness_steps, self.witness_minutes)

    @property
    def database(self) -> Database:
        return Database.from_url(self.database_url)

    @property
    def dev_mode(self) -> bool:
        return self.env == "dev"
