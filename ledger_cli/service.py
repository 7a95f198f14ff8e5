"""``ledger serve``, ``ledger demo``, ``ledger users create``, ``ledger tokens create`` (list, revoke:
``tokens.py``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ledger.errors import LedgerError

from .common import acting, open_container, settings
from .listening import reserve

console = Console(stderr=True)
users_app = typer.Typer(help="People who use the ledger.", no_args_is_help=True)
tokens_app = typer.Typer(help="Bearer tokens: long-lived ones for devices and integrators; list, revoke.",
                         no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    tls_cert: Annotated[Path | None, typer.Option(help="Serve HTTPS with this certificate (PEM chain).")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="The certificate's private key (PEM).")] = None,
) -> None:
    """Run the REST API (uvicorn); HTTPS with --tls-cert and --tls-key (then HSTS and Secure cookies)."""
    import os

    import uvicorn

    current = settings()  # refuse bad configuration before forking workers
    if (tls_cert is None) != (tls_key is None):
        console.print("[red]give both --tls-cert and --tls-key[/red]")
        raise typer.Exit(2)
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            console.print(f"[red]no file {path}[/red]")
            raise typer.Exit(2)
    scheme = "https" if tls_cert else "http"
    if tls_cert:
        os.environ["LEDGER_HTTPS"] = "true"  # the workers read their settings from the environment
    elif current.https:
        console.print("LEDGER_HTTPS is set: HSTS and Secure cookies, for the TLS-terminating proxy in front")
    console.print(f"serving on {scheme}://{host}:{port}  (docs: {scheme}://{host}:{port}/docs)")
    options = {"factory": True, "host": host, "port": port, "workers": workers, "log_level": "warning",
               "access_log": False, "ssl_certfile": str(tls_cert) if tls_cert else None,
               "ssl_keyfile": str(tls_key) if tls_key else None}
    if workers > 1 and sys.platform == "linux":
        _serve_on_one_socket_per_worker(uvicorn.Config("api.app:app_from_env", **options))
    else:
        uvicorn.run("api.app:app_from_env", **options)


def _serve_on_one_socket_per_worker(config: Any) -> None:
    """uvicorn's own supervisor (restarts, signals), each worker on its own socket
    (``ledger_cli.listening``)."""
    from uvicorn.supervisors import Multiprocess

    try:
        reserved = reserve(config.host, config.port, config.backlog)
    except OSError as exc:
        console.print(f"[red]cannot listen on {config.host}:{config.port}: {exc.strerror}[/red]")
        raise typer.Exit(1) from None
    with reserved:
        Multiprocess(config, sockets=[reserved]).run()


def demo(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Only when the ledger has no events yet.")] = False,
) -> None:
    """Load demo users and sites, run an autologous and an allogeneic journey and leave a third case
    awaiting QA's review; print the COIs."""
    from ledger.services.journeys import (
        DEMO_PASSWORD,
        DEMO_USERS,
        run_allogeneic_journey,
        run_autologous_journey,
        run_review_journey,
        seed_identities,
    )

    container = open_container()
    if if_empty and container.ledger.last_position():
        console.print("the ledger has events already: no demo journey added (run `ledger demo` for another)")
        container.close()
        return
    try:
        seed_identities(container.services)
        auto = run_autologous_journey(container.services)
        allo = run_allogeneic_journey(container.services)
        review = run_review_journey(container.services)
        planning = orchestration_demo(container)
        container.catch_up()
        container.publish_checkpoint()  # the demo's events are covered by a signed checkpoint at once
    except LedgerError as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        container.close()
    console.print(f"demo users (password {DEMO_PASSWORD!r}): {', '.join(DEMO_USERS)}")
    console.print(f"autologous case {auto.coi}: a wrong-patient infusion was refused ({', '.join(auto.refused)})")
    console.print(f"  lot {auto.extra['lot']}: inputs consumed at the start, product labelled at fill "
                  f"{auto.extra['manufacturing_days']} days later")
    console.print(f"allogeneic donor {allo.coi} -> patients {', '.join(allo.extra['patients'])}")
    console.print(f"awaiting QA's review {review.coi}: a refused collection, a storage excursion and a wrong-purpose "
                  "scan to disposition, then sign-off and release (sign in to /portal/review as qa)")
    console.print(f"orders booked: {', '.join(planning['orders'])}; {planning['late']}: delivered late, re-planned "
                  "(GET /v1/orders/ORD-DEMO-LATE)")
    typer.echo(json.dumps({"autologous": auto.coi, "donor": allo.coi, "patients": allo.extra["patients"],
                           "awaiting_review": review.coi, "orders": planning["orders"],
                           "order_cases": planning["cases"]}))


def orchestration_demo(container) -> dict:
    """The demo's planning network and booked orders (``ledger.services.network_demo``)."""
    from ledger.services.journeys import DEMO_PRODUCT
    from ledger.services.network_demo import run_orchestration_demo
    from projections.orchestration_query import network

    def network_of():
        container.runner.catch_up()
        with container.engine.connect() as conn:
            return network(conn, {DEMO_PRODUCT: container.services.orders.timing(DEMO_PRODUCT)})

    def replan() -> None:
        container.runner.catch_up()
        container.replanner.catch_up()

    return run_orchestration_demo(container.services, network_of, replan)


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Argument(help="User id (never reused).")],
    role: Annotated[list[str], typer.Option(help="Role (repeatable).")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    printed_name: Annotated[str | None, typer.Option(help="Name shown in signatures.")] = None,
    site: Annotated[list[str] | None, typer.Option(help="Site id (repeatable).")] = None,
) -> None:
    """Create a user (recorded as an event by the person running the CLI, `--as`)."""
    container = open_container()
    try:
        container.services.identity.create_user(
            acting(container), user_id=name, printed_name=printed_name or name, roles=role,
            sites=site or [], password=password)
    except LedgerError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.detail}")
        raise typer.Exit(1) from None
    finally:
        container.close()
    console.print(f"created user {name} ({', '.join(role)})")


@tokens_app.command("create")
def tokens_create(
    device: Annotated[str | None, typer.Option(help="Device id (registered now if new: give --site).")] = None,
    user: Annotated[str | None, typer.Option(help="Integrator account (a user whose only role is integrator).")]
    = None,
    site: Annotated[str | None, typer.Option(help="Site of a new device.")] = None,
    kind: Annotated[str, typer.Option(help="Kind of a new device: scanner, logger, integration.")] = "scanner",
    days: Annotated[int, typer.Option(help="Validity in days (at most LEDGER_TOKEN_MAX_DAYS).")] = 365,
    label: Annotated[str | None, typer.Option(help="What the token is for (shown in listings).")] = None,
) -> None:
    """Issue a long-lived, revocable bearer token (recorded as TokenIssued); it is printed once
    and stored only as a digest. People sign in instead."""
    if (device is None) == (user is None):
        console.print("[red]name exactly one of --device or --user[/red]")
        raise typer.Exit(2)
    container = open_container()
    try:
        ctx = acting(container)
        reads = container.services.reads()
        if device is not None and reads.device(device).version == 0:
            if site is None:
                console.print(f"[red]device {device} is not registered: give --site to register it[/red]")
                raise typer.Exit(2)
            container.services.identity.register_device(ctx, device_id=device, kind=kind,
                                                        site=site)
        issued = container.services.access.issue_long_lived(ctx, device=device, user=user,
                                                             days=days, label=label)
        token = issued.token
        console.print(f"token {issued.record.token_id} for {issued.record.principal} "
                      f"(revoke: ledger tokens revoke {issued.record.token_id} --reason ...)")
    except LedgerError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.detail}")
        raise typer.Exit(1) from None
    finally:
        container.close()
    typer.echo(token)
