"""Application services: the use cases, composed over the one writer (``Ledger``).

Each command reads the streams it needs, asks the pure domain to decide, and appends the
decided events atomically with the versions it read (optimistic concurrency).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from ..application import Ledger
from ..domain.credentials import DEFAULT_PARAMS, Argon2Params
from ..timefmt import utc_now
from .cases import CaseService
from .credential_store import CredentialStore
from .executor import Context, Executor, Outcome, Reads, SignOff
from .identity import IdentityService
from .quality import QualityService
from .units import UnitService


@dataclass(frozen=True)
class Services:
    ledger: Ledger
    cases: CaseService
    units: UnitService
    quality: QualityService
    identity: IdentityService

    def reads(self) -> Reads:
        return Reads(self.ledger)


def build_services(
    ledger: Ledger,
    engine: Engine,
    *,
    master_secret: bytes,
    clock: Callable[[], datetime] = utc_now,
    argon2: Argon2Params = DEFAULT_PARAMS,
    password_days: int | None = None,
) -> Services:
    executor = Executor(ledger, clock)
    return Services(
        ledger=ledger,
        cases=CaseService(executor, clock, master_secret),
        units=UnitService(executor, clock, master_secret),
        quality=QualityService(executor, clock, master_secret),
        identity=IdentityService(executor, CredentialStore(engine), clock, params=argon2,
                                 password_days=password_days),
    )


__all__ = ["Context", "Outcome", "Services", "SignOff", "build_services"]
