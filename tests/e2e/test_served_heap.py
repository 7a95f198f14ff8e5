"""The served app settles its heap once started (``api.app.settle_the_heap``): what start-up built
is frozen out of later collections, and the young generation is collected less often."""

from __future__ import annotations

import gc

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.heap import YOUNG_GENERATION_THRESHOLD


@pytest.fixture
def restored_collector():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_served_app_freezes_what_start_up_built(settings, restored_collector):
    gc.unfreeze()
    with TestClient(create_app(settings, settle_heap=True)) as client:
        assert gc.get_freeze_count() > 10_000  # modules, the container, the catalogue
        assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD
        assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_an_app_built_by_a_caller_leaves_the_collector_alone(settings, restored_collector):
    gc.unfreeze()
    before = gc.get_threshold()
    with TestClient(create_app(settings)) as client:
        assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
        assert client.get("/healthz").status_code == 200
