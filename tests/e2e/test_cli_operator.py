"""The CLI records the person running it (21 CFR 11.10(e)): `--as USER` (or LEDGER_CLI_USER) signed
in through the identity service; outside LEDGER_ENV=dev a recording command without it is refused
(exit 3), and `system` remains only for the bootstrap (the first admin, the demo)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ledger.domain.events_ledger import SealingKeyRotated
from ledger.keys.keystore import KeyStore
from ledger.services.journeys import DEMO_PASSWORD
from ledger.services.operations import SEALING_KEYS
from ledger.streams import user_stream
from ledger_cli.common import OPERATOR_REQUIRED_EXIT
from ledger_cli.main import app as cli

from .conftest import PASSPHRASE

NEW_USER = ["users", "create", "nurse-9", "--role", "clinician", "--site", "hospital-1"]
NEW_PASSWORD = "violet harbour 42 lantern\nviolet harbour 42 lantern\n"


@pytest.fixture
def cli_env(settings, monkeypatch):
    for name, value in {"LEDGER_ENV": "test", "LEDGER_DATABASE_URL": settings.database_url,
                        "LEDGER_KEYS_DIR": str(settings.keys_dir), "LEDGER_KEY_PASSPHRASE": PASSPHRASE,
                        "LEDGER_SITE_SECRET": settings.site_secret.get_secret_value(),
                        "LEDGER_TOKEN_SECRET": settings.token_secret.get_secret_value(),
                        "LEDGER_INSECURE_FAST_HASHING": "true"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LEDGER_CLI_USER", raising=False)
    monkeypatch.delenv("LEDGER_CLI_PASSWORD", raising=False)
    return monkeypatch


def stream(client, user_id):
    return client.app.state.container.services.reads().envelopes(user_stream(user_id))


@pytest.mark.req("URS-P11-10e")
def test_a_recording_command_outside_dev_needs_a_person(client, cli_env):
    refused = CliRunner().invoke(cli, NEW_USER, input=NEW_PASSWORD)
    assert refused.exit_code == OPERATOR_REQUIRED_EXIT and "OPERATOR_REQUIRED" in refused.output
    assert stream(client, "nurse-9") == []
    created = CliRunner().invoke(cli, ["--as", "admin", *NEW_USER], input=NEW_PASSWORD + DEMO_PASSWORD + "\n")
    assert created.exit_code == 0, created.output
    assert {e["actor"] for e in stream(client, "nurse-9")} == {"admin"}  # the person, never `system`


def test_the_person_is_signed_in_and_must_hold_the_role(client, cli_env):
    cli_env.setenv("LEDGER_CLI_USER", "admin")
    cli_env.setenv("LEDGER_CLI_PASSWORD", "not the password")
    wrong = CliRunner().invoke(cli, NEW_USER, input=NEW_PASSWORD)
    assert wrong.exit_code == 1 and "INVALID_CREDENTIALS" in wrong.output
    assert stream(client, "admin")[-1]["type"] == "AccessDenied"  # a failed sign-in, recorded as the API's
    cli_env.setenv("LEDGER_CLI_USER", "qa")
    cli_env.setenv("LEDGER_CLI_PASSWORD", DEMO_PASSWORD)
    forbidden = CliRunner().invoke(cli, NEW_USER, input=NEW_PASSWORD)
    assert forbidden.exit_code == 1 and "FORBIDDEN" in forbidden.output
    assert stream(client, "nurse-9") == []


def test_dev_still_records_as_system_without_a_person(client, cli_env):
    cli_env.setenv("LEDGER_ENV", "dev")
    created = CliRunner().invoke(cli, NEW_USER, input=NEW_PASSWORD)
    assert created.exit_code == 0, created.output
    assert stream(client, "nurse-9")[0]["actor"] == "system"


@pytest.mark.req("URS-P11-10e")
def test_a_key_rotation_is_recorded_by_the_person_and_sealed_with_the_new_key(client, cli_env, settings):
    store = KeyStore(settings.keys_dir)
    old = store.active_key(PASSPHRASE).key_id
    refused = CliRunner().invoke(cli, ["keys", "rotate"])
    assert refused.exit_code == OPERATOR_REQUIRED_EXIT and store.active_key(PASSPHRASE).key_id == old
    rotated = CliRunner().invoke(cli, ["--as", "admin", "keys", "rotate"], input=DEMO_PASSWORD + "\n")
    assert rotated.exit_code == 0, rotated.output
    new = store.active_key(PASSPHRASE).key_id
    assert new != old
    [event] = client.app.state.container.ledger.read_stream(SEALING_KEYS)
    envelope = event.envelope
    assert envelope["type"] == SealingKeyRotated.__name__ and envelope["actor"] == "admin"
    assert envelope["data"]["retired_key_id"] == old and envelope["data"]["new_key_id"] == new
    assert event.key_id == new


def test_only_the_first_admin_is_created_by_system(database, tmp_path, cli_env):
    cli_env.setenv("LEDGER_DATABASE_URL", database.url)
    cli_env.setenv("LEDGER_KEYS_DIR", str(tmp_path / "fresh-keys"))
    first = CliRunner().invoke(cli, ["init", "--admin-user", "root", "--admin-password", "maple ferry 81 quartz"])
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(cli, ["init", "--admin-user", "root2", "--admin-password", "maple ferry 81 quartz"])
    assert second.exit_code == OPERATOR_REQUIRED_EXIT, second.output
    by_root = CliRunner().invoke(cli, ["--as", "root", "init", "--admin-user", "root2",
                                       "--admin-password", "maple ferry 81 quartz"],
                                 input="maple ferry 81 quartz\n")
    assert by_root.exit_code == 0, by_root.output


@pytest.mark.req("URS-P11-10e")
def test_the_service_records_its_settings_at_start_only_when_they_changed(settings):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from ledger.services.operations import SETTINGS

    def start(current) -> list[dict]:
        with TestClient(create_app(current, record_settings=True)) as service:
            assert service.get("/healthz").status_code == 200
            return service.app.state.container.services.reads().envelopes(SETTINGS)

    assert [e["data"]["values"]["token_minutes"] for e in start(settings)] == [60]
    assert len(start(settings)) == 1  # a restart with the same settings records nothing
    changed = start(settings.model_copy(update={"token_minutes": 20, "https": True}))
    assert [e["data"]["values"]["token_minutes"] for e in changed] == [60, 20]
    assert changed[-1]["actor"] == "system" and changed[-1]["data"]["values"]["https"] is True
    assert settings.site_secret.get_secret_value() not in str(changed)
