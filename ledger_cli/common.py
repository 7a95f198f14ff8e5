"""What the ``ledger`` commands share: the settings, and a container for one-off commands."""

from __future__ import annotations

from contextlib import contextmanager

import typer
from rich.console import Console

from ledger.settings import Settings

console = Console(stderr=True)


def settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        console.print(f"[red]configuration refused:[/red] {exc}")
        raise typer.Exit(2) from None


def open_container():
    """The API's container without the read-model followers (a CLI command runs once)."""
    from api.container import build_container

    return build_container(settings().model_copy(update={"run_projections": False}))


@contextmanager
def one_off_container():
    """:func:`open_container` for one command: a ledger refusal is printed with its code (exit 1)."""
    from ledger.errors import LedgerError

    container = open_container()
    try:
        yield container
    except LedgerError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.detail}")
        raise typer.Exit(1) from None
    finally:
        container.close()
