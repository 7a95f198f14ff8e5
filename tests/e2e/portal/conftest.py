"""Portal fixtures: the demo data behind the e2e ``client`` (TestClient) and a portal sign-in."""

from __future__ import annotations

import re

import pytest

from ledger.services.journeys import DEMO_PASSWORD

from .demo import Demo, seed_demo


@pytest.fixture
def demo(client) -> Demo:
    return seed_demo(client.app.state.container)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the form"
    return found.group(1)


@pytest.fixture
def portal_login(client):
    """Sign ``user`` in through the portal form; the TestClient keeps the cookies."""

    def sign_in(user: str, password: str = DEMO_PASSWORD):
        client.cookies.clear()
        form = client.get("/portal/login")
        return client.post("/portal/login", data={"username": user, "password": password,
                                                  "csrf_token": csrf_of(form.text), "next": "/portal/cases"},
                           follow_redirects=False)

    return sign_in
