from __future__ import annotations

import pytest

from ledger.domain.catalogue import build_catalogue
from ledger.domain.credentials import FAST_TEST_PARAMS
from ledger.services import build_services
from ledger.services.journeys import seed_identities
from ledger.store.application import Ledger
from projections.db import make_engine


@pytest.fixture
def domain_ledger(database, sealing_key):
    app = Ledger(database, sealing_key, build_catalogue(), pool_size=4)
    yield app
    app.close()


@pytest.fixture
def services(domain_ledger, database):
    engine = make_engine(database)
    built = build_services(domain_ledger, engine, master_secret=b"test-master-secret", argon2=FAST_TEST_PARAMS)
    yield built
    engine.dispose()


@pytest.fixture
def seeded(services):
    seed_identities(services)
    return services
