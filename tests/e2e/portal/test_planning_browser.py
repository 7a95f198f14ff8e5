"""The capacity board in a real browser (headless Chromium, uvicorn, SQLite), on the demo's network:
``ORD-DEMO-LATE`` was delivered to the plant late and re-planned, and the board draws its slots now
(solid) apart from those of its first plan (dashed); the API says the same. Screenshot:
``screenshots/desktop-10-capacity-board-late.png``."""

from __future__ import annotations

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from ledger.services.journeys import DEMO_PASSWORD, seed_identities
from ledger.services.network_demo import LATE_ORDER
from ledger_cli.service import orchestration_demo

from .browser import DESKTOP, chromium, live_ledger, require_browser, screenshot


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require_browser()
    with live_ledger(tmp_path_factory.mktemp("portal-planning")) as (base, app):
        container = app.state.container
        seed_identities(container.services)
        assert orchestration_demo(container)["late"] == LATE_ORDER
        assert container.runner.wait_for(container.ledger.last_position())
        yield base


def cells(driver, css: str) -> set[tuple[str, str]]:
    return {(r.get_attribute("x"), r.get_attribute("y")) for r in driver.find_elements(By.CSS_SELECTOR, css)}


def test_the_late_shipment_moves_the_plan_on_the_board_and_in_the_api(site):
    base = site
    with httpx.Client(base_url=base) as api:
        token = api.post("/v1/auth/token", data={"username": "planner", "password": DEMO_PASSWORD}).json()
        order = api.get(f"/v1/orders/{LATE_ORDER}",
                        headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    stages = {s["stage"]: s for s in order["timeline"]}
    assert order["plans"] == 2 and order["reason"].startswith("late delivery")
    moved = stages["manufacturing_started"]
    assert moved["planned"] > moved["first_planned"]

    with chromium(*DESKTOP) as driver:
        driver.get(f"{base}/portal/capacity?order={LATE_ORDER}")
        driver.find_element(By.ID, "username").send_keys("planner")
        driver.find_element(By.ID, "password").send_keys(DEMO_PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.ID, "plan-moved")))
        board = driver.find_element(By.CSS_SELECTOR, "svg.capacity-board")
        assert board.size["width"] > 600 and board.size["height"] > 100
        now, first = cells(driver, "rect.held-now"), cells(driver, "rect.held-first")
        assert now and first and now != first  # drawn in different places: the plan visibly moved
        later = {x for x, _ in now} - {str(float(x) - 1) for x, _ in first} - {x for x, _ in first}
        assert later, "the plan's new days are drawn where the first plan had none"
        shot = screenshot(driver, "desktop-10-capacity-board-late")
        assert shot.stat().st_size > 10_000

        driver.get(f"{base}/portal/orders/{LATE_ORDER}")
        rows = driver.find_elements(By.CSS_SELECTOR, "#timeline tr.moved")
        assert any("manufacturing started" in r.text for r in rows)
        screenshot(driver, "desktop-11-order-timeline-late")
