"""The portal signs out an idle session (Annex 11 §12.1, 21 CFR 11.300): time is moved on the
server clock, never slept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.portal.session import ACTIVITY_COOKIE


def move_clock(client, minutes: float) -> None:
    ledger = client.app.state.container.ledger
    base = ledger.clock
    ledger.clock = lambda: base() + timedelta(minutes=minutes)


@pytest.mark.req("URS-A11-12")
def test_an_idle_session_is_sent_to_sign_in_and_its_token_revoked(client, portal_login):
    assert portal_login("qa").status_code == 303
    assert client.get("/portal/cases").status_code == 200
    move_clock(client, 16)  # LEDGER_PORTAL_IDLE_MINUTES defaults to 15
    idle = client.get("/portal/cases", follow_redirects=False)
    assert idle.status_code == 303 and idle.headers["location"].startswith("/portal/login")
    move_clock(client, -16)  # back in time: the session stays ended (its token was revoked)
    assert client.get("/portal/cases", follow_redirects=False).status_code == 303


def test_activity_keeps_a_session_alive(client, portal_login):
    assert portal_login("qa").status_code == 303
    for _ in range(3):  # 30 minutes in all, never 15 without a request
        move_clock(client, 10)
        assert client.get("/portal/cases", follow_redirects=False).status_code == 200


def test_a_forged_activity_time_is_refused(client, portal_login):
    assert portal_login("qa").status_code == 303
    seen = client.cookies.get(ACTIVITY_COOKIE)
    seconds, _, mac = seen.partition(".")
    client.cookies.set(ACTIVITY_COOKIE, f"{int(seconds) + 3600}.{mac}", path="/portal")
    assert client.get("/portal/cases", follow_redirects=False).status_code == 303
