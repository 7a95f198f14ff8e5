"""The portal's alert bell and alerts page: a user of the alert's site sees it (count, list,
page); a user of another site does not; signed out, the page sends to the sign-in."""

from __future__ import annotations

import re
import time

import pytest


def raise_alert(client, *, sites, subject="ORD-9"):
    alerting = client.app.state.container.alerts
    alerting.service.raise_alert("slot_at_risk", subject, sites, "critical", f"slot for {subject} at risk")
    deadline = time.monotonic() + 10
    while alerting.follower.position() < client.app.state.container.ledger.last_position():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def bell_count(html: str) -> int:
    found = re.search(r'class="bell-count[^"]*">(\d+)<', html)
    assert found, "no bell on the page"
    return int(found.group(1))


@pytest.mark.req("URS-ALR-1")
def test_the_bell_shows_an_alert_to_its_sites_staff_and_not_to_another_sites(client, portal_login):
    raise_alert(client, sites=["hospital-1"])
    assert portal_login("nurse").status_code == 303
    cases = client.get("/portal/cases").text
    assert bell_count(cases) == 1 and "slot for ORD-9 at risk" in cases
    listed = client.get("/portal/alerts")
    assert listed.status_code == 200 and "ORD-9" in listed.text and "critical" in listed.text
    assert "No cleared alerts" in client.get("/portal/alerts?state=cleared").text

    assert portal_login("tech").status_code == 303  # the factory's technician
    cases = client.get("/portal/cases").text
    assert bell_count(cases) == 0 and "ORD-9" not in cases
    assert "ORD-9" not in client.get("/portal/alerts").text

    client.app.state.container.alerts.service.clear_alert("slot_at_risk", "ORD-9", "slot rebooked")
    assert portal_login("nurse").status_code == 303
    deadline = time.monotonic() + 10
    while bell_count(client.get("/portal/cases").text) != 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "slot rebooked" in client.get("/portal/alerts?state=all").text


def test_the_alerts_page_needs_a_sign_in(client):
    client.cookies.clear()
    response = client.get("/portal/alerts", follow_redirects=False)
    assert response.status_code in (302, 303, 307) and response.headers["location"].startswith("/portal/login")
