"""``ledger``: operate, verify and use the COI/COC ledger from a terminal."""

from __future__ import annotations

import typer

from . import (
    accounts,
    admin,
    checkpoints,
    export,
    listing,
    projections,
    scan,
    scan_steps,
    service,
    transfer,
    validation,
    verify,
)
from . import tokens as _tokens  # noqa: F401 - registers `tokens list` and `tokens revoke`
from .common import operator_option

app = typer.Typer(
    name="ledger",
    help="Chain-of-identity / chain-of-custody ledger for cell and gene therapies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.callback()(operator_option)
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
app.command("validation-report")(validation.validation_report)
app.command("validation-verify")(validation.validation_verify)
app.command("scan", epilog=scan_steps.purposes_epilog())(scan.scan)
app.add_typer(accounts.users_app, name="users")  # service's, with the commands of listing and accounts
app.add_typer(service.tokens_app, name="tokens")
app.add_typer(listing.cases_app, name="cases")
app.add_typer(listing.sites_app, name="sites")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
