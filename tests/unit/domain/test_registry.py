from __future__ import annotations

import pytest

from ledger.domain.credentials import FAST_TEST_PARAMS, new_signing_key
from ledger.domain.registry import (
    DeviceState,
    decide_deactivate_device,
    decide_register_device,
    decide_register_device_key,
    decide_register_site,
    decide_revoke_device_key,
    fold_device,
    fold_site,
)
from ledger.errors import InvalidEvent, RuleViolation
from ledger.streams import device_stream, site_stream

from .conftest import Ledger


def refused(led: Ledger, decide, *args, **kwargs) -> str:
    with pytest.raises(RuleViolation) as err:
        led.run(decide, *args, **kwargs)
    return err.value.code


def site(led: Ledger, site_id: str):
    return fold_site(led.streams[site_stream(site_id)])


def device(led: Ledger, device_id: str):
    return fold_device(led.streams[device_stream(device_id)])


def test_sites_and_devices(ledger: Ledger) -> None:
    led = ledger
    led.run(decide_register_site, site(led, "HOSP-1"), site_id="HOSP-1", name="City Hospital",
            kind="hospital", gln="0614141123452", actor="admin")
    assert site(led, "HOSP-1").gln == "0614141123452"
    assert refused(led, decide_register_site, site(led, "HOSP-1"), site_id="HOSP-1", name="x",
                   kind="hospital", actor="admin") == "SITE_ID_TAKEN"
    with pytest.raises(InvalidEvent):
        decide_register_site(site(led, "B"), site_id="B", name="B", kind="hospital",
                             gln="0614141123453", actor="admin", now=led.now)
    assert refused(led, decide_register_device, device(led, "SCN-1"), site(led, "NOPE"),
                   device_id="SCN-1", kind="scanner", actor="admin") == "SITE_NOT_FOUND"
    led.run(decide_register_device, device(led, "SCN-1"), site(led, "HOSP-1"), device_id="SCN-1",
            kind="scanner", actor="admin")
    assert refused(led, decide_register_device, device(led, "SCN-1"), site(led, "HOSP-1"),
                   device_id="SCN-1", kind="scanner", actor="admin") == "DEVICE_ID_TAKEN"

    _, public, key_id = new_signing_key("device passphrase", params=FAST_TEST_PARAMS)
    led.run(decide_register_device_key, device(led, "SCN-1"), key_id=key_id, public_key=public,
            actor="admin")
    assert refused(led, decide_register_device_key, device(led, "SCN-1"), key_id=key_id,
                   public_key=public, actor="admin") == "KEY_ALREADY_REGISTERED"
    assert refused(led, decide_revoke_device_key, device(led, "SCN-1"), "0" * 16, "x",
                   actor="admin") == "UNKNOWN_KEY"
    events = led.run(decide_deactivate_device, device(led, "SCN-1"), "broken", actor="admin")
    assert [e["type"] for e in events] == ["DeviceDeactivated", "DeviceKeyRevoked"]
    assert refused(led, decide_revoke_device_key, device(led, "SCN-1"), key_id, "x",
                   actor="admin") == "KEY_REVOKED"
    assert refused(led, decide_register_device_key, device(led, "SCN-1"), key_id=key_id,
                   public_key=public, actor="admin") == "DEVICE_DEACTIVATED"
    assert refused(led, decide_deactivate_device, DeviceState(), "x",
                   actor="admin") == "DEVICE_NOT_FOUND"
