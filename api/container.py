"""The composition root of the service: everything built once, in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine

from ledger.bootstrap import open_ledger
from ledger.domain.catalogue import build_catalogue
from ledger.domain.credentials import DEFAULT_PARAMS, FAST_TEST_PARAMS
from ledger.services import Services, build_services
from ledger.settings import Settings
from ledger.store import migrations
from ledger.store.application import Ledger
from projections.checkpoints import CheckpointPublisher
from projections.db import make_engine
from projections.merkle_log import MerkleLog
from projections.read_models import all_projections
from projections.runner import ProjectionRunner

from .auth.tokens import TokenStore
from .observability import Metrics


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

    @property
    def merkle(self) -> MerkleLog:
        return next(p for p in self.log_follower.projections if isinstance(p, MerkleLog))

    def catch_up(self) -> None:
        """Apply everything appended so far to the read models and the Merkle log."""
        self.runner.catch_up()
        self.log_follower.catch_up()

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
        self.runner.stop()
        self.log_follower.stop()
        self.ledger.close()
        self.engine.dispose()


def build_container(settings: Settings) -> Container:
    if settings.dev_mode:
        migrations.upgrade(settings.database)  # first start of the embedded default
    ledger = open_ledger(settings, build_catalogue())
    # one connection per request thread (see api/app.py), plus the two followers' own
    engine = make_engine(settings.database, pool_size=settings.pool_size + 2)
    services = build_services(
        ledger, engine, master_secret=settings.site_secret.get_secret_value().encode(),
        password_days=settings.password_days, backfill_tolerance=timedelta(hours=settings.backfill_hours),
        argon2=FAST_TEST_PARAMS if settings.insecure_fast_hashing else DEFAULT_PARAMS,
    )
    # Two followers, so slow read models never delay signed checkpoints (B7).
    runner = ProjectionRunner(ledger, engine, all_projections(settings))
    publisher = CheckpointPublisher.from_settings(settings, ledger.sealing_key)
    log_follower = ProjectionRunner(ledger, engine, [MerkleLog(publisher)])
    container = Container(settings, ledger, engine, services, TokenStore(engine), runner, log_follower, Metrics())
    if settings.run_projections:
        runner.start()
        log_follower.start()
    return container
