"""``ledger verify`` starts with its own command only: the same options as in the full CLI,
without importing the rest of it (the API, the read models, PDF and barcode libraries)."""

from __future__ import annotations

import subprocess
import sys

from typer.main import get_command

from ledger_cli.main import full_app, verify_app


def _options(app) -> list[tuple]:
    command = get_command(app).commands["verify"]
    return [(p.name, tuple(p.opts), tuple(p.secondary_opts), p.default) for p in command.params]


def test_verify_alone_has_the_options_of_the_full_cli():
    assert _options(verify_app()) == _options(full_app())
    alone, full = (get_command(app).commands["verify"] for app in (verify_app(), full_app()))
    assert alone.help == full.help and alone.help


def test_ledger_verify_does_not_import_the_rest_of_the_cli():
    probe = (
        "import sys\n"
        "sys.argv = ['ledger', 'verify', '--help']\n"
        "from ledger_cli.main import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
        "heavy = ['api', 'projections.verify_read_models', 'ledger_cli.scan', 'ledger_cli.export', 'alembic']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert "Usage: ledger verify" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"
