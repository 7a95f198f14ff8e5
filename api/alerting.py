"""The alerts' run-time parts, built once by the composition root (``api.container``): the alert
port (``AlertService``), the follower that keeps the ``alerts`` read model and schedules timers,
and the worker that fires them. Both run on threads of the service process, on their own small
connection pool, so they never take a request's connection."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from api.authority import reads_every_case
from ledger.domain.events_alert import alert_id
from ledger.services.alerts import AlertService
from ledger.services.executor import Executor
from ledger.settings import Settings
from ledger.store.application import Ledger
from ledger.timefmt import format_utc
from projections.alert_mail import SmtpMailer
from projections.alert_timers import Timer, schedule
from projections.alert_worker import AlertWorker
from projections.alerts import AlertFollower
from projections.common import micros
from projections.db import make_engine
from projections.runner import ProjectionRunner


@dataclass
class Alerting:
    service: AlertService
    follower: ProjectionRunner
    worker: AlertWorker
    engine: Engine

    def start(self, *, follow: bool, fire: bool) -> None:
        if follow:
            self.follower.start()
        if fire:
            self.worker.start()

    def expect_arrival(self, tracking: str, expected_at: datetime, sites: Iterable[str],
                       coi: str | None = None) -> None:
        """A shipment's planned arrival (orchestration knows it; the dispatch event does not carry
        one): ``shipment_late`` is raised at ``expected_at`` unless ``ShipmentDelivered`` with this
        tracking number is applied first (which also clears it when it comes later). Durable and
        idempotent: the same plan given twice schedules one timer; a new time schedules another."""
        ident = alert_id("shipment_late", tracking)
        due = micros(expected_at)
        timer = Timer("raise", ident, "shipment_late", tracking, f"planned:{due}", due, tuple(sorted(set(sites))),
                      coi, "warning", f"shipment {tracking} not delivered by {format_utc(expected_at)}")
        with self.engine.begin() as conn:
            schedule(conn, timer, position=self.follower.position())

    def catch_up(self) -> None:
        """Apply the log so far (alerts and timers), then fire the timers due now."""
        self.follower.catch_up()
        self.worker.run_once()

    def stop(self) -> None:
        try:
            self.worker.stop()
            self.follower.stop()
        finally:
            self.engine.dispose()


def build_alerting(settings: Settings, ledger: Ledger, executor: Executor) -> Alerting:
    engine = make_engine(settings.database, pool_size=2)
    follower = ProjectionRunner(ledger, engine, [AlertFollower(reads_every_case,
                                                               handover_minutes=settings.alert_handover_minutes,
                                                               expiry_hours=settings.alert_expiry_hours)])
    service = AlertService(executor)
    worker = AlertWorker(engine, service, executor.clock, poll_seconds=settings.alert_poll_seconds,
                         mailer=mailer(settings))
    return Alerting(service, follower, worker, engine)


def mailer(settings: Settings) -> SmtpMailer | None:
    if not settings.smtp_host:
        return None
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpMailer(settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_tls,
                      settings.smtp_user, password)
