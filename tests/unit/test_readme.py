"""The README's commands exist and do what it says: the port of `make run`, the CLI commands."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_run_takes_the_port_the_readme_names():
    assert "make run PORT=8080" in README
    planned = subprocess.run(["make", "-n", "run", "PORT=8123"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    assert "ledger serve --host 127.0.0.1 --port 8123" in planned
    default = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "ledger serve --host 127.0.0.1 --port 8000" in default


def test_every_ledger_command_in_the_readme_exists():
    commands = set(re.findall(r"\.venv/bin/ledger ((?:[a-z]+)(?: (?:list|export|show|create|rotate))?)", README))
    assert {"cases list", "verify", "export", "scan", "init"} <= commands
    for command in sorted(commands):
        helped = subprocess.run([sys.executable, "-m", "ledger_cli.main", *command.split(), "--help"], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert helped.returncode == 0, (command, helped.stderr)
    assert "ledger demo |" not in README  # finding the demo's COI must not add another journey
