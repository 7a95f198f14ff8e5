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
    from ledger.services.executor import Context

    from .common import one_off_container

    if not password:
        console.print("[red]--admin-password is required with --admin-user[/red]")
        raise typer.Exit(2)
    with one_off_container() as container:
        if container.services.identity.user(user_id).version:
            console.print(f"user {user_id} exists already")
            return
        container.services.identity.create_user(Context(actor="system"), user_id=user_id, printed_name=user_id,
                                                roles=["admin"], password=password)
        console.print(f"created administrator {user_id}")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Start a new sealing key; the old public key stays published with its validity period."""
    from ledger.bootstrap import key_store, sealing_key
    current = settings()
    try:
        old = sealing_key(current)
        new = key_store(current).rotate(current.key_passphrase.get_secret_value())
    except KeyStoreError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"retired {old.key_id}; new sealing key {new.key_id}")


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
