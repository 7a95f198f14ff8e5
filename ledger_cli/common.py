"""What the ``ledger`` commands share: the settings, a container for one-off commands, and the
person running them (``--as``).

Every command that records an event records it as the person running the CLI
(``ledger --as USER ...`` or ``LEDGER_CLI_USER``; the password from ``LEDGER_CLI_PASSWORD`` or
prompted), signed in through the identity service like the API's sign-in (throttled, a failure
recorded) and authorised by the API's policy (``api.authority``). Only the bootstrap acts as
``system``: ``ledger init --admin-user`` while the ledger has no user, ``ledger demo``, and the
ledger's own records (settings at service start). Without ``--as``, a recording command acts as
``system`` in ``LEDGER_ENV=dev`` and is refused elsewhere (exit :data:`OPERATOR_REQUIRED_EXIT`).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.console import Console

from ledger.settings import Settings

console = Console(stderr=True)
OPERATOR_REQUIRED_EXIT = 3
SYSTEM = "system"


@dataclass
class _Operator:
    user: str | None = None


operator = _Operator()


def operator_option(
    as_user: Annotated[str | None, typer.Option(
        "--as", envvar="LEDGER_CLI_USER", metavar="USER",
        help="Record as this person (password: LEDGER_CLI_PASSWORD or prompted); required to record "
             "anything outside LEDGER_ENV=dev.")] = None,
) -> None:
    operator.user = as_user or None


def acting(container, action: str = "admin"):
    """The :class:`~ledger.services.executor.Context` of the person running the command, signed
    in and allowed ``action`` (an ``api.authority`` action or event type); ``system`` without
    ``--as`` in dev only. A refused sign-in or role is a ``LedgerError`` (exit 1 in
    :func:`one_off_container`)."""
    from api.authority import Principal, authorise
    from ledger.domain.users import password_change_due
    from ledger.errors import Forbidden
    from ledger.services.executor import Context

    if operator.user is None:
        current = settings()
        if current.dev_mode:
            console.print("[yellow]no --as: recorded as `system` (LEDGER_ENV=dev only)[/yellow]")
            return Context(actor=SYSTEM)
        console.print(f"[red]OPERATOR_REQUIRED[/red]: LEDGER_ENV={current.env} records only as a person: "
                      "give --as USER (or LEDGER_CLI_USER; password LEDGER_CLI_PASSWORD or prompted)")
        raise typer.Exit(OPERATOR_REQUIRED_EXIT)
    password = os.environ.get("LEDGER_CLI_PASSWORD") or typer.prompt(f"password of {operator.user}",
                                                                     hide_input=True)
    identity = container.services.identity
    person = identity.authenticate(operator.user, password, client=None)
    if password_change_due(person, identity.clock()):
        raise Forbidden("change the temporary or expired password first", code="PASSWORD_CHANGE_REQUIRED")
    principal = authorise(Principal(operator.user, "user", tuple(person.roles), tuple(person.sites),
                                    person.printed_name), action)
    return Context(actor=principal.id, scope=principal.sites)


def settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        console.print(f"[red]configuration refused:[/red] {exc}")
        raise typer.Exit(2) from None


def open_container():
    """The API's container without the read-model followers (a CLI command runs once)."""
    from api.container import build_container

    return build_container(settings().model_copy(update={"run_projections": False}))


@contextmanager
def one_off_container():
    """:func:`open_container` for one command: a ledger refusal is printed with its code (exit 1)."""
    from ledger.errors import LedgerError

    container = open_container()
    try:
        yield container
    except LedgerError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.detail}")
        raise typer.Exit(1) from None
    finally:
        container.close()
