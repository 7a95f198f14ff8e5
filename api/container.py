"""The composition root of the service: everything built once, in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from ledger import migrations
from ledger.application import Ledger
from ledger.bootstrap import open_ledger
from ledger.domain.catalogue import build_catalogue
from ledger.domain.credentials import DEFAULT_PARAMS, FAST_TEST_PARAMS
from ledger.services import Services, build_services
from ledger.settings import Settings
from projections.checkpoints import CheckpointPublisher
from projections.db import make_engine
from projections.merkle_log import MerkleLog
from projections.registry import all_projections
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
    runner: ProjectionRunner
    metrics: Metrics

    @property
    def merkle(self) -> MerkleLog:
        return next(p for p in self.runner.projections if isinstance(p, MerkleLog))

    def publish_checkpoint(self) -> dict | None:
        """Sign a checkpoint of the Merkle tree as far as it has been built, now."""
        publisher = self.merkle.publisher
        assert publisher is not None
        with self.engine.begin() as conn:
            return publisher.publish_now(conn)

    def close(self) -> None:
        self.runner.stop()
        self.ledger.close()
        self.engine.dispose()


def build_container(settings: Settings) -> Container:
    if settings.dev_mode:
        migrations.upgrade(settings.database)  # first start of the embedded default
    ledger = open_ledger(settings, build_catalogue())
    engine = make_engine(settings.database, pool_size=settings.pool_size)
    services = build_services(
        ledger, engine, master_secret=settings.site_secret.get_secret_value().encode(),
        password_days=settings.password_days,
        argon2=FAST_TEST_PARAMS if settings.insecure_fast_hashing else DEFAULT_PARAMS,
    )
    runner = ProjectionRunner(ledger, engine, _projections(settings, ledger))
    container = Container(settings, ledger, engine, services, TokenStore(engine), runner, Metrics())
    if settings.run_projections:
        runner.start()
    return container


def _projections(settings: Settings, ledger: Ledger) -> list:
    """The read models and the Merkle log (whose checkpoints the sealing key signs)."""
    publisher = CheckpointPublisher.from_settings(settings, ledger.sealing_key)
    return [*all_projections(settings), MerkleLog(publisher)]
