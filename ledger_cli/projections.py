"""``ledger projections rebuild|status``: the read models (genealogy, custody, conditions,
audit trail, exceptions, identifiers) rebuilt from the log, and how far behind they are."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from ledger.bootstrap import open_ledger
from ledger.errors import LedgerError
from ledger.keys.keystore import KeyStoreError
from ledger.store.database import Database
from ledger.store.rawstore import StoreUnreadable
from ledger.verification.verify import total_events
from projections.db import make_engine
from projections.read_models import all_projections
from projections.runner import ProjectionRunner, tracked_position

from .common import settings

console = Console(stderr=True)
projections_app = typer.Typer(help="Read models built from the event log.", no_args_is_help=True)


def _events_after(engine: Engine, database: Database, position: int) -> int:
    column = "rowid" if database.kind == "sqlite" else "notification_id"
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT COUNT(*) FROM {database.events_table} "
                                 f"WHERE {column} > :p"), {"p": position}).scalar_one()


@projections_app.command("rebuild")
def rebuild(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Events per transaction.")] = 1000,
) -> None:
    """Delete every read-model row and replay the whole log from zero (exactly once)."""
    current = settings()
    try:
        total = total_events(current.database)
        ledger = open_ledger(current)
    except (StoreUnreadable, KeyStoreError, LedgerError) as exc:
        console.print(f"[red]cannot open the ledger:[/red] {exc}")
        raise typer.Exit(2) from None
    engine = make_engine(current.database)
    runner = ProjectionRunner(ledger, engine, all_projections(current), batch_size=batch_size)
    started = time.perf_counter()
    try:
        with Progress(TextColumn("rebuilding read models"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                      transient=not console.is_terminal) as progress:
            task = progress.add_task("events", total=total)
            applied = runner.rebuild(on_batch=lambda n: progress.advance(task, n))
    finally:
        engine.dispose()
        ledger.close()
    elapsed = time.perf_counter() - started
    rate = applied / elapsed if elapsed > 0 else 0.0
    console.print(f"[green]rebuilt[/green]: {applied} events in {elapsed:.1f} s ({rate:,.0f} events/s)")


@projections_app.command("status")
def status() -> None:
    """Each read model's tracked position against the head of the log, and its lag."""
    current = settings()
    database = current.database
    engine = make_engine(database)
    try:
        with engine.connect() as conn:
            column = "rowid" if database.kind == "sqlite" else "notification_id"
            head = conn.execute(text(f"SELECT MAX({column}) FROM {database.events_table}")
                                ).scalar() or 0
            tracked = {r[0]: r[1] for r in conn.execute(
                text("SELECT name, position FROM projection_tracking ORDER BY name"))}
            for projection in all_projections(current):
                tracked.setdefault(projection.name, tracked_position(conn, projection.name))
        table = Table("read model", "position", "log head", "lag (events)")
        for name, position in sorted(tracked.items()):
            lag = _events_after(engine, database, position)
            table.add_row(name, str(position), str(head), str(lag))
    except SQLAlchemyError as exc:
        console.print(f"[red]cannot read the projection state:[/red] {exc}")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    Console().print(table)
