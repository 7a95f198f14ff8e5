"""``ledger``: operate, verify and use the COI/COC ledger from a terminal."""

from __future__ import annotations

import functools
import sys
from typing import Any

import typer

from .common import operator_option


def _typer() -> typer.Typer:
    app = typer.Typer(
        name="ledger",
        help="Chain-of-identity / chain-of-custody ledger for cell and gene therapies.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    app.callback()(operator_option)
    return app


@functools.cache
def full_app() -> typer.Typer:
    """Every command (``ledger_cli.main.app``)."""
    from . import (
        accounts,
        admin,
        checkpoints,
        export,
        listing,
        plan,
        projections,
        scan,
        scan_steps,
        service,
        transfer,
        validation,
        verify,
    )
    from . import tokens as _tokens  # noqa: F401 - registers `tokens list` and `tokens revoke`
    from .subscriptions import deliver, subscriptions_app

    app = _typer()
    app.add_typer(admin.db_app, name="db")
    app.add_typer(admin.keys_app, name="keys")
    app.add_typer(projections.projections_app, name="projections")
    app.add_typer(checkpoints.checkpoints_app, name="checkpoints")
    app.command("init")(admin.init)
    app.command("verify")(verify.verify)
    app.add_typer(export.export_app, name="export")
    app.command("serve")(service.serve)
    app.command("backup")(transfer.backup)
    app.command("restore")(transfer.restore)
    app.command("migrate")(transfer.migrate)
    app.command("demo")(service.demo)
    app.command("plan")(plan.plan)  # re-plan the open book (orchestration)
    app.command("validation-report")(validation.validation_report)
    app.command("validation-verify")(validation.validation_verify)
    app.command("scan", epilog=scan_steps.purposes_epilog())(scan.scan)
    app.add_typer(accounts.users_app, name="users")  # service's, with the commands of listing and accounts
    app.add_typer(service.tokens_app, name="tokens")
    app.add_typer(listing.cases_app, name="cases")
    app.add_typer(listing.sites_app, name="sites")
    app.add_typer(subscriptions_app, name="subscriptions")  # webhooks (docs/WEBHOOKS.md)
    app.command("deliver")(deliver)
    return app


def verify_app() -> typer.Typer:
    """``ledger verify`` alone, with the same options: importing every command costs seconds of a
    verification's start-up (the API, the read models' migrations, PDF and barcode libraries)."""
    from . import verify

    app = _typer()
    app.command("verify")(verify.verify)
    return app


def __getattr__(name: str) -> Any:
    if name == "app":  # built on first use: ``from ledger_cli.main import app`` as before
        return full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    if sys.argv[1:2] == ["verify"]:
        verify_app()()
    else:
        full_app()()


if __name__ == "__main__":
    main()
