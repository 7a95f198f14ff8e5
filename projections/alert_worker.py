"""The alert worker: fires due alert timers (``projections.alert_timers``) through the alert port
(``ledger.services.alerts.AlertService``), on a thread of each service process.

Several workers (processes, hosts) may run at once: each timer is claimed by one of them, and a
timer fired twice after a crash still records one event (the alert's decision is idempotent by
cause). A timer whose firing is refused for good (e.g. a site no longer registered) is marked
``failed`` after ``MAX_ATTEMPTS`` and logged, so it never blocks the queue.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from ledger.errors import LedgerError, StorageUnavailable, StreamConflict
from ledger.polling import Poller
from ledger.services.alerts import AlertService
from ledger.timefmt import parse_utc

from .alert_mail import SmtpMailer, compose, recipients
from .alert_timers import Timer, TimerQueue
from .common import from_micros

log = logging.getLogger("ledger.alerts")
MAX_ATTEMPTS = 5


class AlertWorker:
    def __init__(self, engine: Engine, alerts: AlertService, clock: Callable[[], datetime], *,
                 poll_seconds: float = 0.5, worker: str | None = None, mailer: SmtpMailer | None = None) -> None:
        self.queue = TimerQueue(engine, worker or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}")
        self.engine = engine
        self.mailer = mailer
        self.alerts = alerts
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._poller: Poller | None = None

    def run_once(self) -> int:
        """Fire the timers due now; returns how many were fired."""
        fired = 0
        for timer in self.queue.claim_due(self.clock()):
            try:
                self.fire(timer)
            except (StreamConflict, StorageUnavailable):
                log.warning("alert timer %s not fired yet; its claim expires and it is retried", timer.timer_id)
                continue
            except (LedgerError, OSError) as refused:  # OSError: the mail server refused or is away
                if self.queue.attempts(timer) < MAX_ATTEMPTS:
                    log.warning("alert timer %s refused (%s); retried later", timer.timer_id, refused)
                    continue
                log.error("alert timer %s failed for good: %s", timer.timer_id, refused)
                self.queue.done(timer, self.clock(), failed=True)
                continue
            self.queue.done(timer, self.clock())
            fired += 1
        return fired

    def fire(self, timer: Timer) -> None:
        if timer.action == "mail":
            self.mail(timer)
        elif timer.action == "raise":
            self.alerts.raise_alert(timer.kind, timer.subject, timer.sites, timer.severity, timer.message,
                                    timer.coi, due_at=parse_utc(from_micros(timer.due_at)), cause=timer.cause)
        else:
            self.alerts.clear_alert(timer.kind, timer.subject, timer.message, cause=timer.cause)

    def mail(self, timer: Timer) -> None:
        """Mail a raised alert to the staff of its sites (nothing without a mail server or anyone to mail)."""
        if self.mailer is None:
            return
        with self.engine.connect() as conn:
            to = recipients(conn, timer.sites)
        if to:
            self.mailer.send(compose(timer, self.mailer.sender, to))
            log.info("alert %s mailed to %d recipient(s)", timer.alert_id, len(to))

    def start(self) -> None:
        if self._poller is None:
            self._poller = Poller("alert-worker", self.run_once, self.poll_seconds)
            self._poller.start()

    def stop(self) -> None:
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
