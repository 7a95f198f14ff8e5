"""The ledger's own operation recorded: unknown-id sign-in failures counted per window (a bounded
number of events, never the typed ids) and the settings a service starts with (only when changed)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.domain.credentials import FAST_TEST_PARAMS
from ledger.domain.events_ledger import SettingsRecorded, UnknownSignInFailures
from ledger.errors import RuleViolation
from ledger.services import build_services
from ledger.services.operations import SETTINGS, SIGN_IN
from ledger.services.sign_in_throttle import SignInThrottle
from ledger.settings import Settings
from ledger.timefmt import utc_now
from projections.db import make_engine


@pytest.fixture
def timed(domain_ledger, database):
    """Services on a clock the test moves, with the sign-in throttle of the service."""
    now = [utc_now() - timedelta(hours=1)]
    engine = make_engine(database)
    throttle = SignInThrottle("memory://", client_limits="1000/minute", account_limits="5/minute",
                              key=b"throttle key for the test")
    built = build_services(domain_ledger, engine, master_secret=b"test-master-secret", argon2=FAST_TEST_PARAMS,
                           clock=lambda: now[0], throttle=throttle)
    yield built, now
    engine.dispose()


def recorded(services, stream):
    return [e for e in services.reads().envelopes(stream)]


@pytest.mark.req("URS-P11-300d")
def test_a_hundred_unknown_id_failures_are_one_event_per_window_with_their_count(timed):
    services, now = timed
    for i in range(100):
        client = "198.51.100.7" if i < 70 else "2001:db8::1"
        with pytest.raises(RuleViolation):
            services.identity.authenticate(f"nobody-{i % 40}@typo", "a wrong password", client=client)
        now[0] += timedelta(seconds=1)  # 100 s: inside one 5-minute window
    assert recorded(services, SIGN_IN) == []  # nothing before the window ends
    now[0] += timedelta(minutes=5)
    with pytest.raises(RuleViolation):  # the next failure after the window writes it
        services.identity.authenticate("nobody-else", "a wrong password", client="198.51.100.7")
    [event] = recorded(services, SIGN_IN)
    assert event["type"] == UnknownSignInFailures.__name__ and event["actor"] == "system"
    assert event["data"]["count"] == 100 and event["data"]["distinct_ids"] == 40
    assert event["data"]["by_client"] == {"198.51.100.0/24": 70, "2001:db8::/48": 30}
    assert "nobody" not in str(event)  # never a typed id
    assert services.operations.flush_unknown_sign_ins(force=True) is not None  # the open window, at close
    assert [e["data"]["count"] for e in recorded(services, SIGN_IN)] == [100, 1]
    assert services.operations.flush_unknown_sign_ins(force=True) is None  # nothing left to write


def test_a_known_users_wrong_password_is_not_counted_as_unknown(seeded):
    with pytest.raises(RuleViolation):
        seeded.identity.authenticate("qa", "a wrong password", client="198.51.100.7")
    assert seeded.operations.flush_unknown_sign_ins(force=True) is None


def test_settings_are_recorded_when_they_change_and_never_a_secret(services):
    settings = Settings(env="test", key_passphrase="passphrase long enough 1", site_secret="site secret long enough",
                        token_secret="token secret long enough", https=True)
    first = services.operations.record_settings(settings.recorded_values())
    assert first is not None
    assert services.operations.record_settings(settings.recorded_values()) is None  # unchanged: no event
    changed = settings.model_copy(update={"token_minutes": 15})
    assert services.operations.record_settings(changed.recorded_values()) is not None
    events = recorded(services, SETTINGS)
    assert [e["type"] for e in events] == [SettingsRecorded.__name__] * 2
    assert [e["data"]["values"]["token_minutes"] for e in events] == [60, 15]
    assert events[0]["data"]["values"]["https"] is True and events[0]["data"]["values"]["env"] == "test"
    text = str(events)
    assert "long enough" not in text and "passphrase long" not in text
