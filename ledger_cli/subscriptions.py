"""``ledger subscriptions ...`` (what the subscriptions routes do, for an operator) and ``ledger
deliver`` (the webhook outbox follower and delivery worker as a process of their own).

Changes are recorded as the person given with ``--as`` (an admin or an integrator; ``system`` in
dev only), exactly as through the API: an integrator manages its own subscriptions, bounded by
the sites it may read. The signing secret is printed once, by ``create``.
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer
from rich.console import Console

from .common import acting, one_off_container
from .listing import Format, _emit

console = Console(stderr=True)
subscriptions_app = typer.Typer(help="Webhook subscriptions: list, create, pause, resume, delete, deliveries, "
                                     "replay.", no_args_is_help=True)
ACTION = "manage_subscriptions"


def _owner(container: Any, actor: str):
    from api.authority import reads_every_case
    from ledger.services.subscriptions import Owner

    if actor == "system":  # dev only (``acting``)
        return Owner(actor, (), True, True)
    person = container.services.identity.user(actor)
    roles, sites = tuple(person.roles), tuple(person.sites)
    return Owner(actor, sites, reads_every_case(roles, sites), "admin" in roles)


def _synced(container: Any) -> None:
    container.webhooks.catch_up()


@subscriptions_app.command("list")
def subscriptions_list(fmt: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.table
                       ) -> None:
    """Subscriptions you may manage (an admin's: all), with their outbox rows by state."""
    from projections import webhook_query

    with one_off_container() as container:
        owner = _owner(container, acting(container, ACTION).actor)
        _synced(container)
        with container.engine.connect() as conn:
            items = webhook_query.subscriptions(conn, owner=None if owner.admin else owner.id)
    for item in items:
        item["queue"] = ",".join(f"{k}={v}" for k, v in sorted(item["queue"].items()))
    _emit(items, ("subscription_id", "owner", "status", "url", "event_types", "sites", "min_severity", "queue"),
          fmt.value)


@subscriptions_app.command("create")
def subscriptions_create(
    url: Annotated[str, typer.Argument(help="The receiver's http(s) URL (public addresses only).")],
    event_type: Annotated[list[str], typer.Option("--type", help="An event type to send (repeat).")],
    site: Annotated[list[str] | None, typer.Option("--site", help="Only events involving this site.")] = None,
    coi: Annotated[list[str] | None, typer.Option("--coi", help="Only events of this case.")] = None,
    min_severity: Annotated[str | None, typer.Option(help="info, warning or critical.")] = None,
) -> None:
    """Subscribe a URL; prints the subscription id and, once, its signing secret."""
    with one_off_container() as container:
        ctx = acting(container, ACTION)
        _, subscription_id, secret = container.webhooks.subscriptions.create(
            ctx, _owner(container, ctx.actor), url=url, event_types=event_type, sites=site or [], cois=coi or [],
            min_severity=min_severity)
    typer.echo(f"subscription {subscription_id}")
    typer.echo(f"secret {secret}  (shown only now: keep it)")


def _change(verb: str, subscription_id: str, **kwargs: Any) -> None:
    with one_off_container() as container:
        ctx = acting(container, ACTION)
        getattr(container.webhooks.subscriptions, verb)(ctx, _owner(container, ctx.actor), subscription_id, **kwargs)
    console.print(f"subscription {subscription_id}: {verb} recorded")


@subscriptions_app.command("pause")
def subscriptions_pause(subscription_id: str,
                        reason: Annotated[str | None, typer.Option(help="Why (recorded).")] = None) -> None:
    """Pause deliveries (events keep being queued)."""
    _change("pause", subscription_id, reason=reason)


@subscriptions_app.command("resume")
def subscriptions_resume(subscription_id: str) -> None:
    """Resume deliveries."""
    _change("resume", subscription_id)


@subscriptions_app.command("delete")
def subscriptions_delete(subscription_id: str,
                         reason: Annotated[str | None, typer.Option(help="Why (recorded).")] = None) -> None:
    """Delete for good; pending deliveries are cancelled."""
    _change("delete", subscription_id, reason=reason)


@subscriptions_app.command("replay")
def subscriptions_replay(subscription_id: str,
                         from_position: Annotated[int, typer.Option("--from", min=1, help="Log position.")]) -> None:
    """Deliver again what was queued from a log position on (same webhook ids)."""
    _change("replay", subscription_id, from_position=from_position)


@subscriptions_app.command("deliveries")
def subscriptions_deliveries(
    subscription_id: str,
    after: Annotated[int, typer.Option(help="Only positions after this one.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    fmt: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.table,
) -> None:
    """The delivery log: each queued event, its state, attempts, last status and error."""
    from ledger.services.subscriptions import SubscriptionNotFound
    from projections import webhook_query

    with one_off_container() as container:
        owner = _owner(container, acting(container, ACTION).actor)
        _synced(container)
        with container.engine.connect() as conn:
            found = webhook_query.subscriptions(conn, subscription_id=subscription_id)
            if not found or not (owner.admin or found[0]["owner"] == owner.id):
                raise SubscriptionNotFound(f"no subscription {subscription_id!r}")
            rows, _ = webhook_query.deliveries(conn, subscription_id, after=after, limit=limit)
    for row in rows:
        row["latency_ms"] = row["attempt_log"][-1]["latency_ms"] if row["attempt_log"] else None
        if fmt == Format.table:
            del row["attempt_log"]
    _emit(rows, ("position", "event_type", "status", "attempts", "last_status", "latency_ms", "delivered_at",
                 "last_error"), fmt.value)


def deliver() -> None:
    """Queue and deliver webhooks in this process until stopped (SIGTERM or Ctrl-C); the service
    may do the same (``LEDGER_RUN_WEBHOOKS``): leases keep two workers off one row."""
    from .common import open_container

    container = open_container()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    container.webhooks.start()
    console.print(f"delivering webhooks (worker {container.webhooks.worker.worker_id})")
    try:
        stop.wait()
    finally:
        container.close()
