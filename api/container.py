"""The composition root of the service: everything built once, in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from sqlalchemy import Engine

from ledger.bootstrap import open_ledger
from ledger.domain.catalogue import build_catalogue
from ledger.domain.credentials import DEFAULT_PARAMS, FAST_TEST_PARAMS
from ledger.domain.identifiers import purpose_key
from ledger.services import Services, build_services
from ledger.services.access import TokenPolicy
from ledger.services.orders import Planner, greedy_planner
from ledger.services.replanning import ClearAlert, RaiseAlert, ReplanService, log_alert, log_cleared
from ledger.services.review import EventStreams
from ledger.services.scope import CaseUnits
from ledger.services.sign_in_throttle import SignInThrottle
from ledger.services.token_store import TokenStore
from ledger.settings import Settings
from ledger.store import migrations
from ledger.store.application import Ledger
from projections.checkpoints import CheckpointPublisher
from projections.custody_query import units_of_case
from projections.db import make_engine
from projections.exceptions_query import stream_of_event
from projections.merkle_log import MerkleLog
from projections.read_models import all_projections
from projections.replanner import ExpectArrival, Replanner
from projections.runner import ProjectionRunner

from .alerting import Alerting, build_alerting
from .observability import Metrics
from .principals import PrincipalCache
from .webhooks_wiring import Webhooks, build_webhooks


@dataclass
class Container:
    settings: Settings
    ledger: Ledger
    engine: Engine
    services: Services
    tokens: TokenStore
    runner: ProjectionRunner  # the read models
    log_follower: ProjectionRunner  # the Merkle log and its checkpoints, at its own pace
    metrics: Metrics
    alerts: Alerting | None = None  # AlertRaised / AlertCleared: follower, timers, worker
    webhooks: Webhooks | None = None  # subscriptions, the outbox follower and the delivery worker
    planner: Planner = greedy_planner  # proposes an order's plan (POST /v1/orders/{id}/plan)
    replanner: Replanner | None = None  # moves booked plans when what happens deviates from them
    principals: PrincipalCache | None = None  # bearer tokens' holders, kept until they change

    @property
    def merkle(self) -> MerkleLog:
        return next(p for p in self.log_follower.projections if isinstance(p, MerkleLog))

    def catch_up(self) -> None:
        """Apply everything appended so far to the read models, the alerts' and the Merkle log.
        Appends nothing: timers due now are fired by the alert worker, not by a reader catching up
        (a CLI listing must not record alerts)."""
        self.runner.catch_up()
        self.log_follower.catch_up()
        if self.alerts is not None:
            self.alerts.follower.catch_up()

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Both followers have applied ``position`` (read-your-writes, dossiers)."""
        return self.runner.wait_for(position, timeout) and self.log_follower.wait_for(position, timeout)

    def publish_checkpoint(self) -> dict | None:
        """Sign a checkpoint of the Merkle tree as far as it has been built, now."""
        publisher = self.merkle.publisher
        assert publisher is not None
        with self.engine.begin() as conn:
            return publisher.publish_now(conn)

    def close(self) -> None:
        try:
            self.services.operations.flush_unknown_sign_ins(force=True)  # the open window's count
        finally:
            if self.principals is not None:
                self.principals.close()
            if self.alerts is not None:
                self.alerts.stop()
            if self.replanner is not None:
                self.replanner.stop()
            self.runner.stop()
            self.log_follower.stop()
            if self.webhooks is not None:
                self.webhooks.stop()
            self.ledger.close()
            self.engine.dispose()


def case_units_reader(ledger: Ledger, engine: Engine, runner: ProjectionRunner) -> CaseUnits:
    """A case's units for the site scope of writes, from the custody read model once it has
    applied the log so far (if it lags, a write is refused, never wrongly allowed)."""

    def case_units(coi: str) -> list[UUID]:
        runner.wait_for(ledger.last_position())
        with engine.connect() as conn:
            return [UUID(unit) for unit in units_of_case(conn, coi)]

    return case_units


def event_streams_reader(ledger: Ledger, engine: Engine, runner: ProjectionRunner) -> EventStreams:
    """An event's stream, by event id, from the audit trail read model once it has applied the log
    so far (the exception being reviewed is located by the event that opened it)."""

    def event_streams(event_id: str) -> UUID | None:
        runner.wait_for(ledger.last_position())
        with engine.connect() as conn:
            stream = stream_of_event(conn, event_id)
        return None if stream is None else UUID(stream)

    return event_streams


def build_container(settings: Settings) -> Container:
    if settings.dev_mode:
        migrations.upgrade(settings.database)  # first start of the embedded default
    ledger = open_ledger(settings, build_catalogue())
    # one connection per request thread (see api/app.py), plus the three followers' own
    engine = make_engine(settings.database, pool_size=settings.pool_size + 3)
    master_secret = settings.site_secret.get_secret_value().encode()
    # Two followers, so slow read models never delay signed checkpoints (B7).
    runner = ProjectionRunner(ledger, engine, all_projections(settings))
    services = build_services(
        ledger, engine, master_secret=master_secret,
        password_days=settings.password_days, password_min_length=settings.password_min_length,
        argon2=FAST_TEST_PARAMS if settings.insecure_fast_hashing else DEFAULT_PARAMS,
        tokens=TokenPolicy(settings.token_minutes, settings.session_max_hours, settings.token_max_days),
        throttle=SignInThrottle(settings.rate_limit_storage, client_limits=settings.sign_in_client_limits,
                                account_limits=settings.sign_in_account_limits,
                                key=purpose_key(master_secret, "sign-in")),
        case_units=case_units_reader(ledger, engine, runner),
        event_streams=event_streams_reader(ledger, engine, runner),
        backfill_tolerance=timedelta(hours=settings.backfill_hours),
        required_training=settings.required_training,
        witness=settings.witness,
    )
    publisher = CheckpointPublisher.from_settings(settings, ledger.sealing_key)
    log_follower = ProjectionRunner(ledger, engine, [MerkleLog(publisher)])
    container = Container(settings, ledger, engine, services, services.access.store, runner, log_follower, Metrics(),
                          principals=PrincipalCache(settings.database))
    if settings.run_projections:
        runner.start()
        log_follower.start()
    container.alerts = build_alerting(settings, ledger, services.operations.executor)
    container.alerts.start(follow=settings.run_projections, fire=settings.run_projections and settings.alert_worker)
    container.replanner = build_replanner(ledger, engine, services, runner, container.alerts.service.raise_alert,
                                          clear_alert=container.alerts.service.clear_alert,
                                          expect_arrival=container.alerts.expect_arrival)
    if settings.run_projections:
        container.replanner.start()
    container.webhooks = build_webhooks(container)
    if settings.run_projections and settings.run_webhooks:
        container.webhooks.start()
    return container


def build_replanner(ledger: Ledger, engine: Engine, services: Services, runner: ProjectionRunner,
                    raise_alert: RaiseAlert = log_alert, *, clear_alert: ClearAlert = log_cleared,
                    expect_arrival: ExpectArrival | None = None) -> Replanner:
    """The follower that re-plans booked orders on late deliveries and failed QC; ``raise_alert``
    is told when no plan holds (``slot_at_risk``), ``expect_arrival`` of each dispatched shipment's
    planned arrival (``shipment_late``)."""
    return Replanner(ledger, engine, ReplanService(services.orders, raise_alert, clear_alert), services.orders.timing,
                     caught_up=lambda: runner.wait_for(ledger.last_position()), expect_arrival=expect_arrival)
