from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.domain.base import RecordedRefusal
from ledger.domain.credentials import FAST_TEST_PARAMS, new_signing_key
from ledger.domain.users import (
    UserState,
    authenticate,
    decide_change_password,
    decide_change_roles,
    decide_create_user,
    decide_deactivate_user,
    decide_issue_signing_key,
    decide_reset_password,
    decide_revoke_signing_key,
    decide_set_password,
    decide_unlock,
    password_change_due,
)
from ledger.errors import InvalidEvent, RuleViolation
from ledger.streams import user_stream

from .conftest import Ledger


def refused(led: Ledger, decide, *args, **kwargs) -> str:
    with pytest.raises(RuleViolation) as err:
        led.run(decide, *args, **kwargs)
    return err.value.code


def sign_in(led: Ledger, user_id: str, ok: bool) -> str | None:
    try:
        led.append(authenticate(led.user(user_id), ok, led.now), actor=user_id)
    except RecordedRefusal as refusal:
        led.append(refusal.events, actor=user_id)
        return refusal.code
    return None


def test_create_user_and_ids_are_never_reused(staffed: Ledger) -> None:
    led = staffed
    assert led.user("qa.quinn").roles == ("qa",)
    assert led.user("qa.quinn").stream == user_stream("qa.quinn")
    led.run(decide_deactivate_user, led.user("qa.quinn"), "left the company", actor="admin")
    assert refused(led, decide_create_user, led.user("qa.quinn"), user_id="qa.quinn",
                   printed_name="Another Quinn", roles=["qa"], actor="admin") == "USER_ID_TAKEN"


def test_the_ids_the_ledger_acts_as_are_reserved(ledger: Ledger) -> None:
    for user_id in ("system", "SYSTEM"):
        with pytest.raises(InvalidEvent) as refused_id:
            decide_create_user(UserState(), user_id=user_id, printed_name="Not the ledger", roles=["admin"],
                               actor="admin", now=ledger.now)
        assert refused_id.value.code == "RESERVED_ID"


def test_roles_are_validated(ledger: Ledger) -> None:
    for roles in (["wizard"], [], ["qa", "qa"]):
        with pytest.raises(InvalidEvent):
            decide_create_user(UserState(), user_id="u", printed_name="U", roles=roles,
                               actor="admin", now=ledger.now)


def test_change_roles_records_old_and_new(staffed: Ledger) -> None:
    led = staffed
    (event,) = led.run(decide_change_roles, led.user("courier.kim"), roles=["courier", "operator"],
                       sites=["HUB-1"], actor="admin")
    assert event["data"]["previous_roles"] == ["courier"]
    assert led.user("courier.kim").roles == ("courier", "operator")
    assert refused(led, decide_change_roles, led.user("courier.kim"),
                   roles=["operator", "courier"], actor="admin") == "NO_CHANGE"
    assert refused(led, decide_change_roles, UserState(), roles=["qa"],
                   actor="admin") == "USER_NOT_FOUND"


def test_deactivation_revokes_keys_and_blocks_changes(staffed: Ledger) -> None:
    led = staffed
    assert refused(led, decide_deactivate_user, led.user("dr.chen"), " ",
                   actor="admin") == "REASON_REQUIRED"
    events = led.run(decide_deactivate_user, led.user("dr.chen"), "retired", actor="admin")
    assert [e["type"] for e in events] == ["UserDeactivated", "UserSigningKeyRevoked"]
    user = led.user("dr.chen")
    assert not user.active and not any(k.active for k in user.keys)
    assert refused(led, decide_deactivate_user, user, "again", actor="admin") == "USER_DEACTIVATED"
    assert refused(led, decide_set_password, user, expires_at=None,
                   actor="admin") == "USER_DEACTIVATED"
    assert sign_in(led, "dr.chen", True) == "INVALID_CREDENTIALS"  # the same answer as any failure
    assert led.streams[user_stream("dr.chen")][-1]["data"]["reason"] == "deactivated"


def test_bad_passwords_never_lock_the_account_and_every_failure_answers_alike(staffed: Ledger) -> None:
    led = staffed
    codes = [sign_in(led, "courier.kim", False) for _ in range(8)]
    assert codes == ["INVALID_CREDENTIALS"] * 8
    trail = [e for e in led.streams[user_stream("courier.kim")] if e["type"] in ("AccessDenied", "UserLocked")]
    assert [e["data"]["attempt"] for e in trail] == list(range(1, 9))  # no UserLocked
    assert sign_in(led, "courier.kim", True) is None and led.user("courier.kim").active
    with pytest.raises(RuleViolation) as unknown:
        authenticate(UserState(), True, led.now)
    assert (unknown.value.code, unknown.value.detail) == ("INVALID_CREDENTIALS", "wrong user id or password")


def test_a_lock_recorded_before_throttling_holds_until_unlocked(staffed: Ledger) -> None:
    from ledger.domain.base import new_event
    from ledger.domain.events_registry import UserLocked

    led = staffed
    led.append([new_event(user_stream("courier.kim"), UserLocked, user="courier.kim", attempts=5,
                          reason="5 consecutive failed sign-ins")])
    assert sign_in(led, "courier.kim", True) == "INVALID_CREDENTIALS"  # even the right password
    assert led.streams[user_stream("courier.kim")][-1]["data"]["reason"] == "locked"
    assert refused(led, decide_unlock, led.user("courier.kim"), " ", actor="admin") == "REASON_REQUIRED"
    led.run(decide_unlock, led.user("courier.kim"), "identity confirmed by phone", actor="admin")
    assert sign_in(led, "courier.kim", True) is None
    led.run(decide_unlock, led.user("qa.quinn"), "end the back-off", actor="admin")  # no lock: still recorded
    assert led.user("qa.quinn").unlocks == 1


def test_reset_requires_a_change_which_only_the_user_makes(staffed: Ledger) -> None:
    led = staffed
    assert not password_change_due(led.user("qa.quinn"), led.now)
    (reset,) = led.run(decide_reset_password, led.user("qa.quinn"), "forgotten", actor="admin")
    assert reset["type"] == "PasswordReset" and "password" not in {k for k in reset["data"] if k != "user"}
    assert password_change_due(led.user("qa.quinn"), led.now)
    assert sign_in(led, "qa.quinn", True) is None  # signs in, but may only change the password
    assert refused(led, decide_change_password, led.user("qa.quinn"), expires_at=None,
                   actor="admin") == "NOT_YOUR_PASSWORD"
    led.run(decide_change_password, led.user("qa.quinn"), expires_at=None, actor="qa.quinn")
    assert not password_change_due(led.user("qa.quinn"), led.now)


def test_a_success_resets_the_consecutive_count(staffed: Ledger) -> None:
    led = staffed
    for _ in range(4):
        sign_in(led, "qa.quinn", False)
    assert sign_in(led, "qa.quinn", True) is None
    assert led.types(user_stream("qa.quinn"))[-1] == "UserAuthenticated"
    assert led.user("qa.quinn").failed_attempts == 0
    assert sign_in(led, "qa.quinn", False) == "INVALID_CREDENTIALS"
    assert authenticate(led.user("qa.quinn"), True, led.now)[0].type == "UserAuthenticated"
    led.append(authenticate(led.user("qa.quinn"), True, led.now))
    assert authenticate(led.user("qa.quinn"), True, led.now) == []  # a plain success: no event


def test_an_expired_password_signs_in_to_a_change_and_no_password_fails(staffed: Ledger) -> None:
    led = staffed
    led.tick(days=91)
    assert sign_in(led, "qa.quinn", True) is None
    assert password_change_due(led.user("qa.quinn"), led.now)
    led.run(decide_change_password, led.user("qa.quinn"), expires_at=led.now + timedelta(days=90),
            actor="qa.quinn")
    assert not password_change_due(led.user("qa.quinn"), led.now)
    led.run(decide_create_user, UserState(), user_id="new", printed_name="New Person",
            roles=["operator"], actor="admin")
    assert sign_in(led, "new", True) == "INVALID_CREDENTIALS"
    assert led.streams[user_stream("new")][-1]["data"]["reason"] == "no_password"
    assert decide_set_password(led.user("new"), expires_at=None, actor="admin", now=led.now)


def test_signing_keys_one_active_at_a_time(staffed: Ledger) -> None:
    led = staffed
    old = led.user("qa.quinn").keys[0]
    _, public, key_id = new_signing_key("another long password", params=FAST_TEST_PARAMS)
    events = led.run(decide_issue_signing_key, led.user("qa.quinn"), key_id=key_id,
                     public_key=public, actor="qa.quinn")
    assert [e["type"] for e in events] == ["UserSigningKeyRevoked", "UserSigningKeyIssued"]
    user = led.user("qa.quinn")
    assert [(k.key_id, k.active) for k in user.keys] == [(old.key_id, False), (key_id, True)]
    assert refused(led, decide_issue_signing_key, user, key_id=key_id, public_key=public,
                   actor="qa.quinn") == "KEY_ALREADY_REGISTERED"
    _, other_public, other_id = new_signing_key("yet another password", params=FAST_TEST_PARAMS)
    assert refused(led, decide_issue_signing_key, user, key_id=other_id, public_key=public,
                   actor="qa.quinn") == "UNKNOWN_KEY"
    assert refused(led, decide_revoke_signing_key, user, old.key_id, "lost",
                   actor="admin") == "KEY_REVOKED"
    assert refused(led, decide_revoke_signing_key, user, "0" * 16, "lost",
                   actor="admin") == "UNKNOWN_KEY"
    led.run(decide_revoke_signing_key, user, key_id, "laptop stolen", actor="admin")
    assert not any(k.active for k in led.user("qa.quinn").keys)
