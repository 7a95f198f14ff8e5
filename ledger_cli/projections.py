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

from ledger.errors import LedgerError
from ledger.keys.keystore import KeyStoreError
from ledger.store.database import Database
from ledger.store.rawstore import StoreUnreadable
from ledger.verification.verify import total_events
from projections.db import make_engine
from projections.read_models import all_projections
from projections.rebuild import rebuild_read_models
from projections.runner import tracked_position
from projections.scratch import RebuildRunning

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
    processes: Annotated[int, typer.Option(min=0, max=64, help="Replay processes on PostgreSQL "
                                           "(0: one per core); SQLite replays in one.")] = 0,
) -> None:
    """Replay the whole log into fresh read-model tables and swap them in at once (exactly once).

    The service keeps answering from the current tables meanwhile; events appended during the
    rebuild are in the rebuilt tables or applied by the service's follower right after the swap."""
    current = settings()
    try:
        total = total_events(current.database)
    except (StoreUnreadable, KeyStoreError, LedgerError) as exc:
        console.print(f"[red]cannot open the ledger:[/red] {exc}")
        raise typer.Exit(2) from None
    started = time.perf_counter()
    with Progress(TextColumn("rebuilding read models"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                  transient=not console.is_terminal) as progress:
        task = progress.add_task("events", total=total)
        try:
            rebuilt = rebuild_read_models(current.database, processes=processes or None, batch_size=batch_size,
                                          on_events=lambda n: progress.advance(task, n))
        except RebuildRunning as exc:
            console.print(f"[red]not rebuilt:[/red] {exc}")
            raise typer.Exit(2) from None
    elapsed = time.perf_counter() - started
    rate = rebuilt.events / elapsed if elapsed > 0 else 0.0
    console.print(f"[green]rebuilt[/green]: {rebuilt.events} events in {elapsed:.1f} s ({rate:,.0f} events/s, "
                  f"{rebuilt.processes} process{'es' if rebuilt.processes > 1 else ''}), swapped in at "
                  f"position {rebuilt.position}")


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
