"""Application services: the use cases, composed over the one writer (``Ledger``).

Each command reads the streams it needs, asks the pure domain to decide, and appends the
decided events atomically with the versions it read (optimistic concurrency).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from ..domain.credentials import DEFAULT_PARAMS, MIN_PASSWORD, Argon2Params
from ..domain.witness import DEFAULT_WITNESS, WitnessPolicy
from ..store.application import Ledger
from ..timefmt import utc_now
from .access import DEFAULT_TOKEN_POLICY, AccessService, TokenPolicy
from .cases import CaseService
from .credential_store import CredentialStore
from .executor import BACKFILL_TOLERANCE, Context, Executor, Outcome, Reads, SignOff, Step
from .identity import IdentityService
from .operations import OperationsService
from .orders import OrderService
from .products import ProductService
from .qualification import QualificationService
from .quality import QualityService
from .review import EventStreams, ReviewService, no_event_streams
from .scope import CaseUnits, no_units
from .sign_in_throttle import SignInThrottle
from .steps import as_step
from .token_store import TokenStore
from .units import UnitService


@dataclass(frozen=True)
class Planned:
    """The same commands, each returning its :class:`Step` instead of running it: a batch is
    the list of steps, run all or nothing by ``executor.run_steps(steps, claim)``."""

    cases: CaseService[Step]
    units: UnitService[Step]
    quality: QualityService[Step]
    review: ReviewService[Step]
    products: ProductService[Step]


@dataclass(frozen=True)
class Services:
    ledger: Ledger
    executor: Executor
    cases: CaseService[Outcome]
    units: UnitService[Outcome]
    quality: QualityService[Outcome]
    review: ReviewService[Outcome]
    products: ProductService[Outcome]
    identity: IdentityService
    qualification: QualificationService
    access: AccessService
    operations: OperationsService
    plan: Planned
    orders: OrderService[Outcome]

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
    tokens: TokenPolicy = DEFAULT_TOKEN_POLICY,
    password_min_length: int = MIN_PASSWORD,
    throttle: SignInThrottle | None = None,
    case_units: CaseUnits = no_units,
    backfill_tolerance: timedelta = BACKFILL_TOLERANCE,
    required_training: Mapping[str, str] | None = None,
    event_streams: EventStreams = no_event_streams,
    witness: WitnessPolicy = DEFAULT_WITNESS,
) -> Services:
    executor = Executor(ledger, clock, case_units, backfill_tolerance)
    operations = OperationsService(executor)
    identity = IdentityService(executor, CredentialStore(engine), params=argon2, password_days=password_days,
                               password_min_length=password_min_length, throttle=throttle,
                               unknown_failed=operations.unknown_sign_in_failed,
                               required_training=required_training)
    return Services(
        ledger=ledger,
        executor=executor,
        cases=CaseService(executor, master_secret),
        units=UnitService(executor, master_secret, witness=witness),
        quality=QualityService(executor, master_secret, witness=witness),
        review=ReviewService(executor, event_streams),
        products=ProductService(executor),
        identity=identity,
        qualification=QualificationService(identity),
        access=AccessService(executor, TokenStore(engine, notices_url=ledger.database.url), tokens),
        operations=operations,
        plan=Planned(CaseService(executor, master_secret, as_step),
                     UnitService(executor, master_secret, as_step, witness=witness),
                     QualityService(executor, master_secret, as_step, witness=witness),
                     ReviewService(executor, event_streams, as_step),
                     ProductService(executor, as_step)),
        orders=OrderService(executor),
    )


__all__ = ["Context", "Outcome", "Planned", "Services", "SignOff", "Step", "build_services"]
