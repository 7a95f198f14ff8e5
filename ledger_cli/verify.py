"""``ledger verify``: check the whole store offline, reading the database directly."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ledger.keys.keystore import KeyStore, KeyStoreError
from ledger.keys.sealing import KeyRing
from ledger.merkle.witness import WitnessError, parse_witness
from ledger.store.rawstore import StoreUnreadable
from ledger.verification.verify import Finding, Report, total_events
from ledger.verification.whole import verify_store

from .common import settings

if TYPE_CHECKING:
    from projections.verify_read_models import ReadModelReport

console = Console(stderr=True)  # progress and errors that stop the run (exit 2)
out = Console(soft_wrap=True, highlight=False)  # the report: findings, notes and the verdict, together


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
        bool, typer.Option("--fast", help=(
            "Chains, Merkle tree and checkpoint signatures only (no seals, no read models unless --read-models)."))
    ] = False,
    against: Annotated[
        Path | None,
        typer.Option(help="Witness file from `ledger checkpoints export`: must be a prefix of the log."),
    ] = None,
    dossier: Annotated[
        Path | None,
        typer.Option(help="Verify this dossier (from `ledger export`) offline instead: no database needed."),
    ] = None,
    read_models: Annotated[
        bool | None,
        typer.Option("--read-models/--no-read-models", help=(
            "Rebuild every read model from the events into a scratch database and compare each stored "
            "row: one more replay of the log, about what `ledger projections rebuild` costs. "
            "Default: on, off with --fast.")),
    ] = None,
) -> None:
    """Recompute every chain hash, check every seal and signature, the global log's Merkle tree
    and its signed checkpoints, and that every read-model row (audit trail, cases, custody,
    genealogy ...) is what the sealed events make of it. Exit 0 when intact."""
    if dossier is not None:
        verify_dossier_file(dossier, keys)
        return
    read_models = not fast if read_models is None else read_models
    current = settings()
    try:
        witness = parse_witness(against.read_text(encoding="utf-8")) if against else []
    except (OSError, UnicodeDecodeError, WitnessError) as exc:
        console.print(f"[red]cannot read the witness file:[/red] {exc}")
        raise typer.Exit(2) from None
    database = current.database if database_url is None else type(current.database).from_url(database_url)
    try:
        ring = (
            KeyRing.from_json(json.loads(keys.read_text())) if keys else KeyStore(current.keys_dir).key_ring()
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

        try:
            report, log = verify_store(
                database, ring, workers=workers or None, signatures=not fast, witness=witness,
                on_partition=advance, on_events=lambda n: progress.advance(task, n), events=expected,
            )
            models = _verify_read_models(database, progress) if read_models else None
        except StoreUnreadable as exc:
            console.print(f"[red]cannot read the database:[/red] {exc}")
            raise typer.Exit(2) from None
    findings = report.findings + log.findings
    for finding in findings:
        typer.echo(_line(finding))
    differences = models.differences if models else []
    for difference in differences:
        typer.echo(difference.line())
    for note in log.notes:
        out.print(f"note: {note}", markup=False)
    summary = (
        f"{report.events} events in {report.streams} streams; Merkle tree of {log.events} leaves, "
        f"{log.checkpoints} checkpoints" + (f", {log.witnessed} witnessed" if against else "")
        + (" (fast: seals and signatures not checked)" if fast else "")
        + (f"; read models: {models.rows} rows in {models.tables} tables compared with the events up to "
           f"position {models.position}" if models else "; read models not compared")
    )
    if not findings and not differences:
        out.print(f"[green]intact[/green]: {summary}")
        return
    counted = len(findings) + (models.differing if models else 0)
    out.print(f"[red]NOT intact[/red]: {counted} findings; {summary}")
    raise typer.Exit(1)


def _verify_read_models(database, progress: Progress) -> ReadModelReport:
    import psycopg  # here, like the read models' imports: the rest of `ledger verify` needs neither

    from projections.verify_read_models import verify_read_models

    task = progress.add_task("read models", total=None)
    try:
        return verify_read_models(database, on_events=lambda n: progress.advance(task, n))
    except (sqlite3.Error, psycopg.Error) as exc:
        raise StoreUnreadable(f"cannot read the read models ({exc}); --no-read-models skips them") from exc


def _line(finding: Finding) -> str:
    """Per-stream findings name stream and seq; log-level findings (no stream) start with ``log``."""
    if finding.stream is not None:
        return finding.line()
    return f"log: {finding.reason}" + (f": {finding.detail}" if finding.detail else "")


def verify_dossier_file(path: Path, keys: Path | None) -> None:
    """``ledger verify --dossier FILE [--keys RING]``: exit 0 intact, 1 findings, 2 unreadable."""
    from ledger.verification.dossier import verify_dossier

    try:
        bundle = json.loads(path.read_text(encoding="utf-8"))
        trusted = KeyRing.from_json(json.loads(keys.read_text())) if keys else None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        console.print(f"[red]cannot read the dossier or key ring:[/red] {exc}")
        raise typer.Exit(2) from None
    findings = verify_dossier(bundle, trusted=trusted)
    for finding in findings:
        typer.echo(_line(finding))
    if findings:
        out.print(f"[red]NOT intact[/red]: {len(findings)} findings in dossier {escape(str(path))}")
        raise typer.Exit(1)
    events = sum(len(s["events"]) for s in bundle["streams"])
    cp = bundle["checkpoint"]
    out.print(f"[green]intact[/green]: case {bundle['coi']}, {events} events in {len(bundle['streams'])} "
                  f"streams, checkpoint {cp['origin']} size {cp['tree_size']} root {cp['root']}, sealing keys "
                  + ", ".join(k["key_id"] for k in bundle["keys"]) + ("" if keys else " (not checked against --keys)"))
