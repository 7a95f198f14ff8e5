"""``ledger export --coi X --format json|pdf|epcis [--output F]``: a case's record, for an auditor;
``ledger export archive DIR|FILE.zip``: every case's dossier, the keys and the signed checkpoints."""

from __future__ import annotations

import importlib
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ledger.errors import LedgerError

console = Console(stderr=True)
export_app = typer.Typer(help="Export for auditors: one case (--coi), or the whole ledger (archive).",
                         invoke_without_command=True)


class ExportFormat(StrEnum):
    json = "json"
    pdf = "pdf"
    epcis = "epcis"


@export_app.callback()
def export(
    ctx: typer.Context,
    coi: Annotated[str | None, typer.Option(help="The case's COI id.")] = None,
    format: Annotated[ExportFormat, typer.Option(  # noqa: A002 - the documented option name
        "--format", help="json: the offline-verifiable dossier; pdf: its human-readable rendering; "
                         "epcis: GS1 EPCIS 2.0 events.")] = ExportFormat.json,
    output: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
) -> None:
    """Export one case: the dossier (verify it with `ledger verify --dossier FILE`), its PDF, or EPCIS."""
    if ctx.invoked_subcommand is not None:
        return
    if coi is None:
        console.print("[red]give --coi, or `ledger export archive DIR`[/red]")
        raise typer.Exit(2)
    if format is ExportFormat.epcis:
        try:
            module = importlib.import_module("ledger_cli.export_epcis")
        except ModuleNotFoundError:
            console.print("[red]EPCIS export is not available in this build (ledger_cli.export_epcis)[/red]")
            raise typer.Exit(2) from None
        module.export(coi, output)
        return
    from api.routes.dossier import dossier_for
    from ledger.verification.dossier import verify_dossier

    from .common import open_container

    container = open_container()
    try:
        bundle = dossier_for(container, coi.upper())
    except LedgerError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.detail}")
        raise typer.Exit(1) from None
    finally:
        container.close()
    if format is ExportFormat.pdf:
        from api.dossier_pdf import render_pdf

        data = render_pdf(bundle, verify_dossier(bundle))
    else:
        data = json.dumps(bundle, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"
    if output is None:
        typer.echo(data.decode("utf-8") if format is ExportFormat.json else data, nl=False)
    else:
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(output)
    events = sum(len(s["events"]) for s in bundle["streams"])
    console.print(f"exported case {bundle['coi']}: {events} events in {len(bundle['streams'])} streams, "
                  f"checkpoint size {bundle['checkpoint']['tree_size']}" + (f" to {output}" if output else ""))


@export_app.command("archive")
def archive(
    target: Annotated[Path, typer.Argument(help="A directory (new or empty), or a file ending in .zip.")],
) -> None:
    """Every case's dossier, the public key ring and every signed checkpoint, with consistency proofs
    between them: check it offline with `python tools/verify_archive.py TARGET`."""
    from .archive import build_archive, write_archive
    from .common import open_container

    container = open_container()
    try:
        files = build_archive(container)
        write_archive(files, target)
    except (LedgerError, OSError) as exc:
        console.print(f"[red]archive not written:[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        container.close()
    manifest = json.loads(files["manifest.json"])
    signed = len(manifest["consistency"]) + 1 if manifest["checkpoint"] else 0
    console.print(f"archived {len(manifest['dossiers'])} cases and {signed} signed checkpoints to {target}")
