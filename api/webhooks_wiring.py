"""Webhooks' part of the composition root: the subscription commands, the outbox follower and the
delivery worker, built once per service (``api.container``) or per ``ledger deliver`` process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.services.subscriptions import SubscriptionService
from ledger.webhooks.delivery import DeliveryPolicy, DeliveryWorker
from ledger.webhooks.secrets import SecretBox
from projections.runner import ProjectionRunner, tracked_position
from projections.webhook_outbox import NAME, WebhookOutbox

from .authority import reads_every_case


class _MetricsOf:
    """The delivery worker's observer: the container's metrics at the time of the call (the app's
    lifespan replaces them after the container is built)."""

    def __init__(self, container: Any) -> None:
        self.container = container

    def delivered(self, latency: float, lag: float) -> None:
        self.container.metrics.delivered(latency, lag)

    def failed(self) -> None:
        self.container.metrics.failed()

    def dead(self) -> None:
        self.container.metrics.dead()


class OutboxRunner(ProjectionRunner):
    """The outbox follower: polled often (new rows wake the delivery worker promptly), so a round
    first asks, read-only, whether the log has grown past it; only then does it take its tracking
    row for writing."""

    def run_once(self) -> int:
        with self.engine.connect() as conn:
            behind = tracked_position(conn, NAME) < self.log.last_position()
        if not behind:
            return 0
        applied = super().run_once()
        if applied and self.on_applied is not None:
            self.on_applied()
        return applied

    on_applied: Any = None


@dataclass
class Webhooks:
    subscriptions: SubscriptionService
    outbox: ProjectionRunner  # follows the log behind the read models, fills webhook_outbox
    worker: DeliveryWorker

    def start(self) -> None:
        self.outbox.start(poll_interval=0.05)
        self.worker.start()

    def stop(self) -> None:
        self.outbox.stop()
        self.worker.stop()

    def catch_up(self) -> int:
        return self.outbox.catch_up()


def build_webhooks(container: Any, *, worker_id: str | None = None) -> Webhooks:
    settings = container.settings
    box = SecretBox.in_keys_dir(settings.keys_dir)
    service = SubscriptionService(container.services.executor, box, allow_private=settings.webhook_allow_private)
    outbox = OutboxRunner(container.ledger, container.engine, [WebhookOutbox(reads_all=reads_every_case)])
    worker = DeliveryWorker(container.engine, box, DeliveryPolicy.from_settings(settings),
                            observer=_MetricsOf(container), worker_id=worker_id)
    outbox.on_applied = worker.wake  # new rows: the worker looks at once
    return Webhooks(service, outbox, worker)
