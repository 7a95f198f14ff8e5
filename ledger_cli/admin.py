"""Set-up and key management: ``ledger init``, ``ledger db upgrade``, ``ledger keys ...``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from ledger.keys.keystore import KeyStoreError

from .common import settings

console = Console(stderr=True)
db_app = typer.Typer(help="Database schema (alembic migrations).", no_args_is_help=True)
keys_app = typer.Typer(help="The ledger's sealing keys.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration (creates the event store and read-model tables)."""
    from ledger.store import migrations
    current = settings()
    migrations.upgrade(current.database)
    console.print(f"database schema is current ({current.database.kind})")


def init(
    admin_user: Annotated[str | None, typer.Option(help="Create this first administrator.")] = None,
    admin_password: Annotated[str | None, typer.Option(help="Password of the first administrator.")] = None,
) -> None:
    """Create the database schema, the sealing key and, optionally, the first admin (idempotent)."""
    from ledger.bootstrap import key_store
    from ledger.store import migrations
    current = settings()
    migrations.upgrade(current.database)
    store = key_store(current)
    try:
        if store.exists():
            key = store.active_key(current.key_passphrase.get_secret_value())
            console.print(f"sealing key {key.key_id} already present in {store.directory}")
        else:
            key = store.create(current.key_passphrase.get_secret_value())
            console.print(f"created sealing key {key.key_id} in {store.directory}")
    except KeyStoreError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if admin_user:
        _first_admin(admin_user, admin_password)


def _first_admin(user_id: str, password: str | None) -> None:
    """The first administrator is created by `system` (the bootstrap); once the ledger has a user,
    a further one is created by the person running the CLI (``--as``)."""
    from ledger.keys.keyevents import UserSigningKeyIssued
    from ledger.services.executor import Context
    from ledger.store import rawstore

    from .common import SYSTEM, acting, one_off_container

    if not password:
        console.print("[red]--admin-password is required with --admin-user[/red]")
        raise typer.Exit(2)
    with one_off_container() as container:
        if container.services.identity.user(user_id).version:
            console.print(f"user {user_id} exists already")
            return
        database = container.settings.database
        with rawstore.connect(database) as conn:  # every user has a signing key: a key event
            first = not any(e["type"] == UserSigningKeyIssued.__name__
                            for e in rawstore.key_event_envelopes(database, conn))
        ctx = Context(actor=SYSTEM) if first else acting(container)
        container.services.identity.create_user(ctx, user_id=user_id, printed_name=user_id,
                                                roles=["admin"], password=password)
        console.print(f"created administrator {user_id}")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Start a new sealing key; the old public key stays published with its validity period.
    Recorded as `SealingKeyRotated` by the person running the CLI (``--as``), sealed with the new key."""
    from ledger.bootstrap import key_store

    from .common import acting, one_off_container

    current = settings()
    with one_off_container() as container:  # who rotates: signed in before the key changes
        ctx = acting(container)
    store = key_store(current)
    try:
        new = store.rotate(current.key_passphrase.get_secret_value())
        ring = store.key_ring()
    except KeyStoreError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    retired = max((k for k in ring.keys.values() if k.valid_until is not None), key=lambda k: k.valid_until)
    with one_off_container() as container:  # opened after the rotation: seals with the new key
        container.services.operations.record_key_rotation(ctx, retired, ring.keys[new.key_id])
    console.print(f"retired {retired.key_id}; new sealing key {new.key_id}")


@keys_app.command("show")
def keys_show() -> None:
    """Print the published key ring (public keys with validity periods) as JSON."""
    from ledger.bootstrap import key_store
    try:
        ring = key_store(settings()).key_ring()
    except KeyStoreError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    typer.echo(json.dumps(ring.to_json(), indent=2))
