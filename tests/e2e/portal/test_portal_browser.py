"""The portal in a real browser: headless Debian Chromium driving a uvicorn server (SQLite, demo data).

Sign-in (a failed one first), search, the case page (graph, custody, chart, trail with printed
names, no patient identifier in the source), an exception's link to its event, a download
through the browser session, sign-out; a tablet-width pass; and a courier who sees no trail.
Screenshots go to ``screenshots/`` (git-ignored).
"""

from __future__ import annotations

import re

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from ledger.services.journeys import DEMO_PASSWORD
from projections.audit_query import audit_trail_page

from .browser import DESKTOP, TABLET, chromium, live_ledger, require_browser, screenshot
from .demo import seed_demo

FETCH = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {credentials: 'same-origin'}).then(async r => done(
  {status: r.status, type: r.headers.get('content-type'), head: (await r.text()).slice(0, 200)}))
  .catch(e => done({status: 0, type: String(e), head: ''}));
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require_browser()
    tmp = tmp_path_factory.mktemp("portal")
    with live_ledger(tmp) as (base, app):
        demo = seed_demo(app.state.container)
        yield base, demo, app.state.container


def wait(driver, condition, seconds: float = 20):
    return WebDriverWait(driver, seconds).until(condition)


def sign_in(driver, base: str, user: str, password: str = DEMO_PASSWORD) -> None:
    driver.get(f"{base}/portal/login")
    driver.find_element(By.ID, "username").clear()
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()


def assert_no_patient_identifier(source: str, demo) -> None:
    assert "patient_ref" not in source and "donor_ref" not in source
    for value in (*demo.patient_refs, *demo.mrns):
        assert value not in source
    assert not re.search(r"\bMRN\b", source)  # the word; random ids may contain the letters


def test_qa_signs_in_searches_reviews_a_case_and_downloads(site):
    base, demo, container = site
    with chromium(*DESKTOP) as driver:
        driver.get(f"{base}/portal/cases")
        assert "/portal/login" in driver.current_url  # signed out: sent to sign in
        sign_in(driver, base, "qa", "not-the-password")
        error = wait(driver, ec.visibility_of_element_located((By.ID, "login-error")))
        assert error.text == "Wrong user id or password."
        screenshot(driver, "desktop-01-login-failed", full_page=False)
        assert container.wait_for(container.ledger.last_position())
        with container.engine.connect() as conn:
            denied = audit_trail_page(conn, {"type": "AccessDenied", "actor": "qa"})["items"]
        assert denied, "the failed sign-in is recorded as AccessDenied"

        sign_in(driver, base, "qa")
        wait(driver, ec.url_contains("/portal/cases"))
        assert "Dr. Quentin Assurance" in driver.find_element(By.CSS_SELECTOR, ".who").text
        cookie = driver.get_cookie("ledger_portal")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/portal"
        screenshot(driver, "desktop-02-cases", full_page=False)

        box = driver.find_element(By.ID, "q")
        box.send_keys(demo.coi.lower(), Keys.ENTER)  # a COI in any case
        wait(driver, ec.url_contains(f"/portal/cases/{demo.coi}"))
        graph = driver.find_element(By.ID, "genealogy-graph")
        assert len(graph.find_elements(By.CSS_SELECTOR, "g.node")) >= 7
        for kind in ("case", "lot", "infusion", "container"):
            assert graph.find_elements(By.CSS_SELECTOR, f"g.node-{kind}")
        assert len(driver.find_elements(By.CSS_SELECTOR, "table.custody")) >= 4
        assert driver.find_elements(By.CSS_SELECTOR, "table.custody tr.gap"), "the overdue handover is marked"
        charts = driver.find_elements(By.CSS_SELECTOR, "svg.temperature-chart")
        assert charts and driver.find_elements(By.CSS_SELECTOR, "svg.temperature-chart rect.excursion-band")
        trail = driver.find_element(By.CSS_SELECTOR, "table.trail").text
        for name in ("Dr. Quentin Assurance", "Dr. Clara Clinician"):
            assert name in trail
        assert "meaning: released" in trail and "meaning: administered" in trail
        assert driver.find_elements(By.CSS_SELECTOR, "table.trail del") and "corner dented" in trail
        badge = driver.find_element(By.ID, "verification")
        assert "Verified" in badge.text and "inclusion proof" in badge.text
        assert_no_patient_identifier(driver.page_source, demo)
        screenshot(driver, "desktop-03-case-top", full_page=False)
        bag = driver.find_element(By.ID, f"unit-{demo.units['apheresis_bag']}")
        driver.execute_script("arguments[0].scrollIntoView()", bag)
        screenshot(driver, "desktop-03b-custody-chart", full_page=False)
        screenshot(driver, "desktop-03-case")

        driver.set_window_size(*DESKTOP)
        link = driver.find_element(By.CSS_SELECTOR, "tr.exception-open a.event-link")
        target = link.get_attribute("href").split("#", 1)[1]
        link.click()
        wait(driver, lambda d: d.execute_script("return document.activeElement.id") == target)
        row = driver.find_element(By.ID, target)
        assert "OperationRefused" in row.text or "CustodyTransferred" in row.text
        screenshot(driver, "desktop-04-exception-event", full_page=False)

        csv = driver.execute_async_script(FETCH, f"/portal/cases/{demo.coi}/audit-trail.csv")
        assert csv["status"] == 200 and csv["type"].startswith("text/csv") and csv["head"].startswith("position,")
        dossier = driver.find_elements(By.CSS_SELECTOR, f"a[href='/portal/cases/{demo.coi}/dossier.json']")
        if dossier:  # offered only where the dossier route exists
            answer = driver.execute_async_script(FETCH, dossier[0].get_attribute("href"))
            assert answer["status"] == 200 and answer["type"].startswith("application/json")

        driver.find_element(By.CSS_SELECTOR, "form[action='/portal/logout'] button").click()
        wait(driver, ec.url_contains("/portal/login"))
        assert "signed out" in driver.find_element(By.CSS_SELECTOR, ".notice").text
        driver.get(f"{base}/portal/cases/{demo.coi}")
        assert "/portal/login" in driver.current_url


def test_keyboard_skip_link_and_unit_search_on_a_tablet(site):
    base, demo, _ = site
    with chromium(*TABLET) as driver:
        sign_in(driver, base, "auditor")
        wait(driver, ec.url_contains("/portal/cases"))
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        focused = driver.switch_to.active_element
        assert focused.get_attribute("class") == "skip-link" and focused.text == "Skip to main content"
        focused.send_keys(Keys.ENTER)
        assert driver.execute_script("return document.activeElement.id") == "main"
        screenshot(driver, "tablet-01-cases", full_page=False)

        label = driver.execute_script("return arguments[0]", str(demo.units["final_product"]))
        driver.get(f"{base}/portal/cases/{demo.coi}")
        product = driver.find_element(By.ID, f"unit-{label}").find_element(By.CSS_SELECTOR, "h3 .mono").text
        driver.get(f"{base}/portal/cases")
        driver.find_element(By.ID, "q").send_keys(product, Keys.ENTER)
        wait(driver, ec.url_contains(f"#unit-{label}"))
        assert driver.execute_script("return document.activeElement.id") == f"unit-{label}"
        for button in driver.find_elements(By.CSS_SELECTOR, ".button"):
            if button.is_displayed():
                assert button.size["height"] >= 44, "touch targets are at least 44 px high"
        width = driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= TABLET[0], "no horizontal scrolling of the page itself on a tablet"
        assert_no_patient_identifier(driver.page_source, demo)
        driver.execute_script("window.scrollTo(0, 0)")
        screenshot(driver, "tablet-02-case-top", full_page=False)
        screenshot(driver, "tablet-02-case")


def test_a_courier_sees_no_audit_trail_and_no_exceptions(site):
    base, demo, _ = site
    with chromium(*DESKTOP) as driver:
        sign_in(driver, base, "courier")
        wait(driver, ec.url_contains("/portal/cases"))
        driver.get(f"{base}/portal/cases/{demo.coi}")
        assert driver.find_element(By.ID, "genealogy-graph")
        for hidden in ("trail", "exceptions"):
            assert not driver.find_elements(By.ID, hidden)
        assert "Audit trail" not in driver.page_source and "Review by exception" not in driver.page_source
        csv = driver.execute_async_script(FETCH, f"/portal/cases/{demo.coi}/audit-trail.csv")
        assert csv["status"] == 403
        assert_no_patient_identifier(driver.page_source, demo)
        screenshot(driver, "desktop-05-courier-case", full_page=False)
