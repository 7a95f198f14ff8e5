"""Fixtures: a Ledger with the domain catalogue and a controllable clock, and read models."""

from __future__ import annotations

import random
from collections.abc import Iterator
from uuid import UUID

import pytest
from sqlalchemy import Engine, text

from ledger.domain.catalogue import build_catalogue
from ledger.store.application import Ledger
from projections.db import make_engine
from projections.read_models import all_projections
from projections.runner import ProjectionRunner
from projections.verify_read_models import read_model_tables

from .journeys import Clock, Journey

READ_MODEL_TABLES = sorted(read_model_tables())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def domain_ledger(database, sealing_key, clock) -> Iterator[Ledger]:
    app = Ledger(database, sealing_key, build_catalogue(), clock=clock, pool_size=4)
    yield app
    app.close()


@pytest.fixture
def journey(domain_ledger, clock) -> Journey:
    j = Journey(domain_ledger, clock)
    j.staff()
    return j


@pytest.fixture
def engine(database) -> Iterator[Engine]:
    engine = make_engine(database)
    yield engine
    engine.dispose()


@pytest.fixture
def runner(domain_ledger, engine) -> ProjectionRunner:
    return ProjectionRunner(domain_ledger, engine, all_projections())


@pytest.fixture
def seeded_event_ids(monkeypatch) -> None:
    """Event ids from a seeded generator, so two runs of a journey store the same ids."""
    rng = random.Random(11)
    monkeypatch.setattr("ledger.store.application.uuid4", lambda: UUID(int=rng.getrandbits(128), version=4))


def dump_tables(engine: Engine) -> dict[str, list[tuple]]:
    """Every read-model row, sorted: equal dumps mean identical read models."""
    out = {}
    with engine.connect() as conn:
        for table in READ_MODEL_TABLES:
            out[table] = sorted((tuple(r) for r in conn.execute(text(f"SELECT * FROM {table}"))),
                                key=repr)
    return out
