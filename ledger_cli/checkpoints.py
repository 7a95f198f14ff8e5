"""``ledger checkpoints ...``: the signed checkpoints of the global log (witness files)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from .common import settings

console = Console(stderr=True)
checkpoints_app = typer.Typer(help="Signed checkpoints of the global log.", no_args_is_help=True)


@checkpoints_app.command("export")
def export(
    output: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
) -> None:
    """Write every signed checkpoint, oldest first, as a witness file for `ledger verify --against`.

    Format: each checkpoint's signed note (C2SP), followed by a line `----`.
    """
    from projections.checkpoints import export_checkpoints
    from projections.db import make_engine

    engine = make_engine(settings().database)
    try:
        with engine.connect() as conn:
            text = export_checkpoints(conn)
    except SQLAlchemyError as exc:
        console.print(f"[red]cannot read the checkpoints:[/red] {exc}")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    count = text.count("\n----\n")
    if output is None:
        typer.echo(text, nl=False)
    else:
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output)
    console.print(f"exported {count} checkpoints" + (f" to {output}" if output else ""))


@checkpoints_app.command("publish")
def publish() -> None:
    """Bring the Merkle tree up to date with the log and sign a checkpoint now."""
    from ledger.bootstrap import open_ledger
    from ledger.keys.keystore import KeyStoreError
    from projections.checkpoints import CheckpointPublisher
    from projections.db import make_engine
    from projections.merkle_log import MerkleLog
    from projections.runner import ProjectionRunner

    current = settings()
    try:
        app = open_ledger(current)
    except KeyStoreError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    engine = make_engine(current.database)
    try:
        publisher = CheckpointPublisher.from_settings(current, app.sealing_key)
        applied = ProjectionRunner(app, engine, [MerkleLog(publisher)]).catch_up()
        with engine.begin() as conn:
            latest = publisher.publish_now(conn)
    finally:
        engine.dispose()
        app.close()
    if latest is None:
        console.print(f"appended {applied} leaves; the log is empty: nothing to sign")
        return
    console.print(f"appended {applied} leaves; checkpoint at tree size {latest['tree_size']}")
    typer.echo(latest["note"], nl=False)
