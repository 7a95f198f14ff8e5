"""Who may hold a long-lived token, and the records of issue and revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.domain.registry import DeviceState
from ledger.domain.rules import CODES
from ledger.domain.tokens import decide_issue_long_lived, decide_revoke_token, require_revocable
from ledger.domain.users import UserState
from ledger.errors import Forbidden, RuleViolation
from ledger.streams import device_stream, user_stream

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
LATER = NOW + timedelta(days=30)


def issue(holder):
    return decide_issue_long_lived(holder, token_id="tok-00112233aabbccdd", expires_at=LATER, label="mes",
                                   now=NOW)


@pytest.mark.parametrize("roles", [("qa",), ("clinician",), ("integrator", "qa"), ("admin",)])
def test_a_person_gets_no_long_lived_token(roles):
    with pytest.raises(Forbidden) as err:
        issue(UserState(user_id="someone", roles=roles))
    assert err.value.code == "PERSON_TOKEN_REFUSED"


def test_an_integrator_account_and_a_device_get_one_on_their_own_stream():
    [event] = issue(UserState(user_id="mes", roles=("integrator",)))
    assert event.stream == user_stream("mes") and event.type == "TokenIssued"
    assert event.data["kind"] == "integrator" and event.data["expires_at"].startswith("2026-03-31")
    [event] = issue(DeviceState(device_id="logger-1", kind="logger", site="H1"))
    assert event.stream == device_stream("logger-1") and event.data["kind"] == "device"
    assert "token" not in event.data and "digest" not in event.data


@pytest.mark.parametrize(("holder", "code"), [
    (UserState(), "USER_NOT_FOUND"),
    (UserState(user_id="mes", roles=("integrator",), deactivated=True), "USER_DEACTIVATED"),
    (DeviceState(), "DEVICE_NOT_FOUND"),
    (DeviceState(device_id="logger-1", deactivated=True), "DEVICE_DEACTIVATED"),
])
def test_no_token_for_an_unknown_or_inactive_holder(holder, code):
    with pytest.raises(RuleViolation) as err:
        issue(holder)
    assert err.value.code == code


def test_a_revocation_needs_a_reason_and_a_live_token():
    with pytest.raises(RuleViolation) as err:
        require_revocable(token_id="tok-00112233aabbccdd", revoked=True, reason="lost")
    assert err.value.code == "TOKEN_REVOKED"
    with pytest.raises(RuleViolation) as err:
        require_revocable(token_id="tok-00112233aabbccdd", revoked=False, reason=" ")
    assert err.value.code == "REASON_REQUIRED"
    [event] = decide_revoke_token(token_id="tok-00112233aabbccdd", principal="logger-1", kind="device",
                                  expires_at=None, label=None, reason="lost", now=NOW)
    assert event.stream == device_stream("logger-1") and event.data["reason"] == "lost"
    assert "TOKEN_NOT_FOUND" in CODES  # raised by the service for an unknown id (tests/e2e/test_tokens_http.py)
