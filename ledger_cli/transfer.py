"""``ledger backup FILE``, ``ledger restore FILE``, ``ledger migrate --to URL``: copies with proof.

A copy (:mod:`ledger.store.portable`) carries every event with its exact stored bytes and the
signed checkpoints; read models and the Merkle log are rebuilt in the target. Then the target
must prove it is the same ledger:

1. the newest signed checkpoint of the source (the header's) opens with the published key ring;
2. the rebuilt tree head of the target has exactly the copy's size, and an RFC 9162 consistency
   proof from that checkpoint to the head verifies (equal roots when the sizes are equal);
3. ``ledger verify`` finds nothing: every hash, seal, chain link and signature, the tree recomputed
   from the rows against every carried checkpoint, and the source's checkpoint as a witness.

Exit 0 proven, 1 not proven (the target holds an unproven copy: do not use it), 2 cannot run.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ledger.errors import LedgerError
from ledger.keys.keystore import KeyStoreError
from ledger.keys.sealing import KeyRing
from ledger.merkle import CheckpointError, ProofError, verify_consistency
from ledger.settings import Settings
from ledger.store.database import Database
from ledger.store.portable import CopyError, Loaded, TargetRefused, load, read_file, read_store, write_file
from ledger.store.rawstore import StoreUnreadable

from .common import settings

console = Console(stderr=True, soft_wrap=True)  # progress and errors that stop the run
out = Console(soft_wrap=True, highlight=False)  # the proof and the verdict

KeysOption = Annotated[Path | None, typer.Option(
    "--keys", help="Published key ring (JSON) to trust; default: the local key ring.")]


def backup(file: Annotated[Path, typer.Argument(help="Write the backup here (JSON lines).")]) -> None:
    """Back up the event store (events with their stored bytes, signed checkpoints, claims, credentials).

    The Merkle log is brought up to date and a checkpoint signed first, so the backup's size is
    covered by a signature that `ledger restore` proves against."""
    current = settings()
    _sign_head(current)
    try:
        end = write_file(file, _counted(read_store(current.database)))
    except (StoreUnreadable, OSError) as exc:
        console.print(f"[red]backup failed:[/red] {exc}")
        raise typer.Exit(2) from None
    counts = end.get("counts", {})
    out.print(f"backed up {counts.get('event', 0)} events, {counts.get('checkpoint', 0)} signed checkpoints, "
              f"{counts.get('credential', 0)} credentials to {file}", markup=False)


def restore(
    file: Annotated[Path, typer.Argument(help="A backup from `ledger backup`.")],
    keys: KeysOption = None,
    database_url: Annotated[str | None, typer.Option(
        help="Restore into this (empty) database instead of LEDGER_DATABASE_URL.")] = None,
) -> None:
    """Restore a backup into an empty database, rebuild the read models, and prove it equal."""
    current = settings()
    target = _target(current, database_url or current.database_url)
    ring = _ring(current, keys)
    try:
        with file.open(encoding="utf-8") as stream:
            loaded = _load(target, read_file(stream))
    except OSError as exc:
        console.print(f"[red]cannot read the backup:[/red] {exc}")
        raise typer.Exit(2) from None
    _prove(target, loaded, ring)


def migrate(
    to: Annotated[str, typer.Option("--to", help="URL of the empty target database (sqlite:/// or postgresql://).")],
    keys: KeysOption = None,
) -> None:
    """Copy the whole ledger into an empty database (another store or server) and prove it equal."""
    current = settings()
    if to == current.database_url:
        console.print("[red]the target is the source database[/red]")
        raise typer.Exit(2)
    target = _target(current, to)
    ring = _ring(current, keys)
    _sign_head(current)
    loaded = _load(target, read_store(current.database))
    _prove(target, loaded, ring)


# -- steps --------------------------------------------------------------------------------------


def _counted(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for record in records:
        if record["record"] == "header":
            cp = record["checkpoint"]
            console.print(f"{record['events']} events" + (f", signed checkpoint at size {cp['tree_size']}"
                                                         if cp else ", no signed checkpoint"))
        yield record


def _sign_head(current: Settings) -> None:
    """Bring the Merkle log up to date and sign a checkpoint of it, so a copy's size is signed."""
    from .common import open_container

    container = open_container()
    try:
        container.log_follower.catch_up()
        container.publish_checkpoint()
    except LedgerError as exc:
        console.print(f"[red]cannot sign the log's head:[/red] {exc}")
        raise typer.Exit(2) from None
    finally:
        container.close()


def _target(current: Settings, url: str) -> Settings:
    """The settings of the target database, its schema migrated (as the owner)."""
    from ledger.store import migrations

    try:
        target = current.model_copy(update={"database_url": url, "run_projections": False})
        migrations.upgrade(Database.from_url(url))
    except Exception as exc:  # noqa: BLE001 - any driver or URL error: cannot run
        console.print(f"[red]cannot prepare the target database:[/red] {exc}")
        raise typer.Exit(2) from None
    return target


def _ring(current: Settings, keys: Path | None) -> KeyRing:
    from ledger.bootstrap import key_store

    try:
        return KeyRing.from_json(json.loads(keys.read_text())) if keys else key_store(current).key_ring()
    except (KeyStoreError, OSError, ValueError, KeyError) as exc:
        console.print(f"[red]cannot load the key ring:[/red] {exc}")
        raise typer.Exit(2) from None


def _load(target: Settings, records: Iterable[dict[str, Any]]) -> Loaded:
    try:
        loaded = load(target.database, records)
    except CopyError as exc:
        console.print(f"[red]nothing restored:[/red] {exc}")
        raise typer.Exit(2 if isinstance(exc, TargetRefused) else 1) from None
    except StoreUnreadable as exc:
        console.print(f"[red]cannot read the source:[/red] {exc}")
        raise typer.Exit(2) from None
    counts = ", ".join(f"{n} {kind}s" for kind, n in loaded.counts.items())
    console.print(f"copied {counts or 'nothing'} into {target.database.kind}")
    return loaded


def _prove(target: Settings, loaded: Loaded, ring: KeyRing) -> None:
    """Rebuild the target's read models and Merkle log, then prove (module docstring); exit 1 if not."""
    from api.container import build_container
    from ledger.verification.verify import verify_database
    from ledger.verification.verify_log import open_signed, verify_log
    from projections.merkle_log import consistency_proof, restore_range, stored_size

    failures: list[str] = []
    note = (loaded.header.get("checkpoint") or {}).get("note")
    size = loaded.header.get("events", 0)
    container = build_container(target)
    try:
        container.catch_up()
        with container.engine.connect() as conn:
            head_size = stored_size(conn)
            head = restore_range(conn, head_size).root()
            out.print(f"restored tree head: size {head_size} root {_b64(head)}", markup=False)
            if head_size != size:
                failures.append(f"the restored log holds {head_size} leaves, the copy {size} events")
            if note is None and size:
                failures.append("the copy carries no signed checkpoint: equality cannot be proven")
            elif note is not None:
                cp = open_signed(note, ring.keys.values())
                out.print(f"source's signed checkpoint: {cp.origin} size {cp.tree_size} root {_b64(cp.root)}",
                          markup=False)
                if cp.tree_size > head_size:
                    failures.append(f"the signed checkpoint covers {cp.tree_size} events, the restored log "
                                    f"only {head_size}")
                else:
                    proof = consistency_proof(conn, cp.tree_size, head_size) if cp.tree_size else {"proof": []}
                    hashes = [base64.b64decode(h) for h in proof["proof"]]
                    verify_consistency(cp.tree_size, head_size, hashes, cp.root, head)
                    out.print(f"consistency proof {cp.tree_size} -> {head_size} ({len(hashes)} hashes): verified",
                              markup=False)
    except (LedgerError, CheckpointError, ProofError) as exc:
        failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        container.close()
    report = verify_database(target.database, ring, workers=1)
    log = verify_log(target.database, ring, witness=[note] if note else [])
    for finding in [*report.findings, *log.findings][:20]:
        failures.append(finding.line() if finding.stream else f"log: {finding.reason}: {finding.detail}")
    out.print(f"verify: {report.events} events in {report.streams} streams, Merkle tree of {log.events} leaves, "
              f"{log.checkpoints} checkpoints: {'intact' if report.intact and log.intact else 'NOT intact'}",
              markup=False)
    if failures:
        for line in failures:
            out.print(f"  {line}", markup=False)
        out.print(f"[red]NOT proven[/red]: the target does not equal the source ({len(failures)} problems); "
                  "do not use it")
        raise typer.Exit(1)
    out.print(f"[green]proven[/green]: the target holds the same ledger ({size} events, same tree head)")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
