"""``ledger verify``: check the whole store offline, reading the database directly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ledger.bootstrap import key_store
from ledger.keystore import KeyStoreError
from ledger.rawstore import StoreUnreadable
from ledger.sealing import KeyRing
from ledger.verify import Report, total_events, verify_database

from .admin import settings

console = Console(stderr=True)


def verify(
    keys: Annotated[
        Path | None,
        typer.Option(help="Published key ring (JSON) to trust; default: the local key ring."),
    ] = None,
    workers: Annotated[int, typer.Option(help="Parallel processes (default: CPU cores).")] = 0,
    database_url: Annotated[
        str | None, typer.Option(help="Database to verify (default: LEDGER_DATABASE_URL).")
    ] = None,
) -> None:
    """Recompute every chain hash and check every seal and signature. Exit 0 when intact."""
    current = settings()
    database = current.database if database_url is None else type(current.database).from_url(database_url)
    try:
        ring = (
            KeyRing.from_json(json.loads(keys.read_text())) if keys else key_store(current).key_ring()
        )
    except (KeyStoreError, OSError, ValueError, KeyError) as exc:
        console.print(f"[red]cannot load the key ring:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        expected = total_events(database)
    except StoreUnreadable as exc:
        console.print(f"[red]cannot read the database:[/red] {exc}")
        raise typer.Exit(2) from None
    with Progress(
        TextColumn("verifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
    ) as progress:
        task = progress.add_task("events", total=expected)

        def advance(part: Report) -> None:
            progress.advance(task, part.events)

        report = verify_database(database, ring, workers=workers or None, on_partition=advance)
    for finding in report.findings:
        typer.echo(finding.line())
    if report.intact:
        console.print(f"[green]intact[/green]: {report.events} events in {report.streams} streams")
        return
    console.print(
        f"[red]NOT intact[/red]: {len(report.findings)} findings in {report.events} events"
    )
    raise typer.Exit(1)
