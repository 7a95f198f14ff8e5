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
from ledger.verify import Finding, Report, total_events, verify_database
from ledger.verify_log import WitnessError, parse_witness, verify_log

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
    fast: Annotated[
        bool, typer.Option("--fast", help="Chains, Merkle tree and checkpoint signatures only (no seals).")
    ] = False,
    against: Annotated[
        Path | None,
        typer.Option(help="Witness file from `ledger checkpoints export`: must be a prefix of the log."),
    ] = None,
) -> None:
    """Recompute every chain hash, check every seal and signature, the global log's Merkle tree
    and its signed checkpoints. Exit 0 when intact."""
    current = settings()
    try:
        witness = parse_witness(against.read_text(encoding="utf-8")) if against else []
    except (OSError, UnicodeDecodeError, WitnessError) as exc:
        console.print(f"[red]cannot read the witness file:[/red] {exc}")
        raise typer.Exit(2) from None
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
        task = progress.add_task("events", total=2 * expected)

        def advance(part: Report) -> None:
            progress.advance(task, part.events)

        report = verify_database(
            database, ring, workers=workers or None, on_partition=advance, signatures=not fast
        )
        try:
            log = verify_log(database, ring, witness=witness, on_events=lambda n: progress.advance(task, n))
        except StoreUnreadable as exc:
            console.print(f"[red]cannot read the database:[/red] {exc}")
            raise typer.Exit(2) from None
    findings = report.findings + log.findings
    for finding in findings:
        typer.echo(_line(finding))
    for note in log.notes:
        console.print(f"note: {note}")
    summary = (
        f"{report.events} events in {report.streams} streams; Merkle tree of {log.events} leaves, "
        f"{log.checkpoints} checkpoints" + (f", {log.witnessed} witnessed" if against else "")
        + (" (fast: seals and signatures not checked)" if fast else "")
    )
    if not findings:
        console.print(f"[green]intact[/green]: {summary}")
        return
    console.print(f"[red]NOT intact[/red]: {len(findings)} findings; {summary}")
    raise typer.Exit(1)


def _line(finding: Finding) -> str:
    """Per-stream findings name stream and seq; log-level findings (no stream) start with ``log``."""
    if finding.stream is not None:
        return finding.line()
    return f"log: {finding.reason}" + (f": {finding.detail}" if finding.detail else "")
