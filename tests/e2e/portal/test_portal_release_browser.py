"""QA reviews and releases a case in a real browser, from the work queue (headless Chromium, uvicorn, SQLite).

The case is the demo's (``run_review_journey``): a refused collection (COI-critical), a storage
excursion (GMP) and a wrong-purpose scan (informational). QA signs in, opens the case from the
queue, dispositions each exception (e-signed), signs off the review and releases the product;
then the audit trail shows every signature with printed name, time and meaning. Every browser
action (page load, typed field, choice, click) is counted; the count is recorded in
docs/PORTAL.md and asserted here.
"""

from __future__ import annotations

import httpx
import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from ledger.services.journeys import DEMO_PASSWORD, run_review_journey, seed_identities

from .browser import DESKTOP, ROOT, chromium, live_ledger, require_browser, screenshot
from .demo import wait_for_read_models

QA_NAME = "Dr. Quentin Assurance"
WORK_LIMIT = 15  # from the work queue to the release (signed in)
SIGN_IN = 4  # the sign-in page, user id, password, the button


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require_browser()
    tmp = tmp_path_factory.mktemp("portal-release")
    with live_ledger(tmp) as (base, app):
        container = app.state.container
        seed_identities(container.services)
        journey = run_review_journey(container.services)
        wait_for_read_models(container)
        yield base, journey, container


class Actions:
    """The browser actions a person makes, counted: page loads they initiate, fields they type
    into, choices they make, buttons and links they click (redirects and reloads that follow
    a click are not counted again)."""

    def __init__(self, driver) -> None:
        self.driver = driver
        self.count = 0
        self.log: list[str] = []

    def _note(self, what: str) -> None:
        self.count += 1
        self.log.append(what)

    def load(self, url: str) -> None:
        self._note(f"load {url}")
        self.driver.get(url)

    def type(self, element, text: str) -> None:
        self._note(f"type {element.get_attribute('name')}")
        element.clear()
        element.send_keys(text)

    def choose(self, select, value: str) -> None:
        self._note(f"choose {select.get_attribute('name')}={value}")
        Select(select).select_by_value(value)

    def click(self, element) -> None:
        self._note(f"click {element.get_attribute('name') or element.text[:30]}")
        element.click()


def wait(driver, condition, seconds: float = 20):
    return WebDriverWait(driver, seconds).until(condition)


def submitted(driver, act: Actions, form, notice: str) -> None:
    """Click the form's button and wait for the page to come back with ``notice``."""
    button = form.find_element(By.CSS_SELECTOR, "button[type=submit]")
    act.click(button)
    # while the page is replaced Chromium may answer "node does not belong to the document": keep polling
    WebDriverWait(driver, 20, ignored_exceptions=(WebDriverException,)).until(ec.staleness_of(button))
    wait(driver, lambda d: d.find_elements(By.ID, "notice") or d.find_elements(By.ID, "problem"))
    problems = driver.find_elements(By.ID, "problem")
    assert not problems, problems[0].text
    assert notice in driver.find_element(By.ID, "notice").text


def form_for(driver, prefix: str):
    return driver.find_element(By.CSS_SELECTOR, f"form.disposition[data-exception^='{prefix}:']")


@pytest.mark.req("URS-P11-50")
def test_qa_reviews_and_releases_a_case_with_three_exceptions_from_the_work_queue(site):
    base, journey, container = site
    coi = journey.coi
    with chromium(*DESKTOP) as driver:
        act = Actions(driver)
        act.load(f"{base}/portal/review")  # signed out: the sign-in page, coming back here
        act.type(driver.find_element(By.ID, "username"), "qa")
        act.type(driver.find_element(By.ID, "password"), DEMO_PASSWORD)
        act.click(driver.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
        wait(driver, ec.url_contains("/portal/review"))
        signed_in = act.count
        assert signed_in == SIGN_IN

        row = driver.find_element(By.ID, f"queue-{coi}")
        cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
        assert cells[:4] == ["Awaiting review", "1", "1", "1"], cells  # stage, COI-critical, GMP, informational
        assert driver.find_element(By.CSS_SELECTOR, "table.figures")
        screenshot(driver, "desktop-06-review-queue", full_page=False)
        act.click(row.find_element(By.CSS_SELECTOR, "a"))
        wait(driver, ec.url_contains(f"/portal/cases/{coi}/release"))
        assert len(driver.find_elements(By.CSS_SELECTOR, "tr.exception-open")) == 3
        screenshot(driver, "desktop-07-release-open")

        # 1. the refused collection (COI-critical): the session's first signing takes user id and password
        form = form_for(driver, "operation_refused")
        user = form.find_element(By.NAME, "user_id")
        assert user.get_attribute("value") == "", "the first signing of a session needs both components"
        act.choose(form.find_element(By.NAME, "classification"), "no_impact")
        act.type(form.find_element(By.NAME, "comment"), "wristband of the neighbouring chair scanned first; "
                                                        "the right patient collected after re-identification")
        act.type(user, "qa")
        act.type(form.find_element(By.NAME, "password"), DEMO_PASSWORD)
        submitted(driver, act, form, "Disposition recorded")

        # 2. the storage excursion (GMP): assessed, which dispositions it
        form = form_for(driver, "excursion_unassessed")
        assert form.find_element(By.NAME, "user_id").get_attribute("value") == "qa"  # later signings: password
        act.click(form.find_element(By.CSS_SELECTOR, "input[name=decision][value=use]"))
        act.type(form.find_element(By.NAME, "comment"), "12 min at -141 °C in the dewar: within validated "
                                                        "cryo-storage limits")
        act.type(form.find_element(By.NAME, "password"), DEMO_PASSWORD)
        submitted(driver, act, form, "Excursion assessment recorded")

        # 3. the wrong-purpose scan (informational): acknowledged with the others of its kind
        submitted(driver, act, driver.find_element(By.ID, "form-acknowledge"), "acknowledged")
        assert not driver.find_elements(By.CSS_SELECTOR, "tr.exception-open")

        form = driver.find_element(By.ID, "form-signoff")
        act.type(form.find_element(By.NAME, "password"), DEMO_PASSWORD)
        submitted(driver, act, form, "Review signed off")
        assert driver.find_element(By.ID, "review-state").text == "signed off, current"

        form = driver.find_element(By.CSS_SELECTOR, "form.release-form")
        act.type(form.find_element(By.NAME, "password"), DEMO_PASSWORD)
        submitted(driver, act, form, "Product released")
        screenshot(driver, "desktop-08-released")

        work = act.count - signed_in
        assert work <= WORK_LIMIT, act.log
        documented = (ROOT / "docs" / "PORTAL.md").read_text()
        assert f"{act.count} browser actions" in documented and f"{work} from the work queue" in documented, (
            act.count, work, act.log)

        shown = [[td.text for td in tr.find_elements(By.CSS_SELECTOR, "th, td")]
                 for tr in driver.find_elements(By.CSS_SELECTOR, "table.signatures tr.signature")]
        meanings = [row[3] for row in shown if row[0] == QA_NAME and row[1] == "qa"]
        assert meanings[-4:] == ["reviewed", "assessed", "reviewed", "released"], shown
        assert all(row[2].endswith("UTC") for row in shown)
        assert not driver.find_elements(By.CSS_SELECTOR, "form.release-form")
        certificate = driver.find_element(By.ID, "certificate").get_attribute("href")
        assert certificate.endswith(f"/portal/cases/{coi}/release.pdf")

    # The audit trail (the API's, with the API's own token) has each signature: printed name, time, meaning.
    assert container.wait_for(container.ledger.last_position(), timeout=20)
    with httpx.Client(base_url=base) as api:
        token = api.post("/v1/auth/token", data={"username": "qa", "password": DEMO_PASSWORD}).json()["access_token"]
        trail = api.get("/v1/audit-trail", params={"coi": coi, "limit": 500},
                        headers={"Authorization": f"Bearer {token}"}).json()["items"]
    signed = {(r["type"], r["signature"]["meaning"]): r["signature"] for r in trail if r.get("signature")}
    for step in (("ExceptionDispositioned", "reviewed"), ("ExcursionAssessed", "assessed"),
                 ("ReviewSignedOff", "reviewed"), ("ProductReleased", "released")):
        assert step in signed, (step, sorted(signed))
        assert signed[step]["printed_name"] == QA_NAME and signed[step]["signed_at"], signed[step]
    assert any(r["type"] == "InformationalAcknowledged" for r in trail)

