"""``ledger projections rebuild`` and ``ledger projections status``."""

from __future__ import annotations

from typer.testing import CliRunner

from ledger_cli.main import app

from .journeys import autologous


def test_rebuild_then_status(journey, runner, database, tmp_path, monkeypatch) -> None:
    autologous(journey)
    head = journey.ledger.last_position()
    monkeypatch.setenv("LEDGER_DATABASE_URL", database.url)
    monkeypatch.setenv("LEDGER_KEYS_DIR", str(tmp_path / "keys"))
    cli = CliRunner()
    before = cli.invoke(app, ["projections", "status"])
    assert before.exit_code == 0, before.output
    assert "read_models" in before.output and f"{head}" in before.output
    rebuilt = cli.invoke(app, ["projections", "rebuild", "--batch-size", "17"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"rebuilt: {head} events" in rebuilt.output
    assert runner.position() == head
    after = cli.invoke(app, ["projections", "status"])
    assert after.exit_code == 0
    line = next(x for x in after.output.splitlines() if "read_models" in x)
    cells = [c.strip() for c in line.replace("┃", "│").split("│") if c.strip()]
    assert cells == ["read_models", str(head), str(head), "0"], after.output
