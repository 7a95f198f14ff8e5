"""``ledger plan``: re-plan the whole open book with the CP-SAT re-planner and book the changes.

Orders whose apheresis has not happened yet (and is not in the past) are placed again, together,
around the plans of those already under way (kept as they are): their own slots count as free.
The plans that change are booked in one append (each moving order's plan released, then its new one
booked), so the book is never half moved; orders left without a place keep their plan and are listed.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .common import acting, console, one_off_container


def plan(
    time_limit: Annotated[float, typer.Option(help="Seconds the solver may take in all.")] = 30.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the changes; book nothing.")] = False,
) -> None:
    """Re-plan the open book (CP-SAT) and book the plans that change."""
    from ledger.planning.cpsat import replan
    from ledger.planning.model import Plan
    from ledger.planning.network import OrderRequest
    from ledger.services.replanning import rebook
    from projections.orchestration_query import actuals, network, open_orders

    with one_off_container() as container:
        ctx = acting(container, "OrderPlanBooked")
        container.catch_up()
        services = container.services
        now = services.executor.clock()
        with container.engine.connect() as conn:
            book = open_orders(conn)
            movable = [row for row in book if "collected" not in actuals(conn, row["coi"])
                       and (row["plan"] is None or date.fromisoformat(row["plan"]["apheresis"]["day"]) >= now.date())]
            rules = {row["product"]: services.orders.timing(row["product"]) for row in movable}
            net = network(conn, rules, held_by=[row["order_id"] for row in movable])
        requests = [OrderRequest(id=r["order_id"], coi=r["coi"], treating_site=r["treating_site"], product=r["product"],
                                 earliest=date.fromisoformat(r["earliest"]), latest=date.fromisoformat(r["latest"]),
                                 priority=r["priority"]) for r in movable]
        with Progress(TextColumn("re-planning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as bar:
            task = bar.add_task("orders", total=len(requests))
            result = replan(net, requests, not_before=now, time_limit_s=time_limit,
                            progress=lambda done, total: bar.update(task, completed=done, total=total))
        current = {r["order_id"]: (Plan.model_validate(r["plan"]) if r["plan"] else None) for r in movable}
        moves = {order: new for order, new in result.placed.items() if new != current.get(order)}
        appended = 0 if dry_run else rebook(services.executor, ctx, moves, reason="re-planned with the open book")
    table = Table("order", "apheresis", "plant", "manufacturing", "infusion from", "change")
    for order, new in sorted(result.placed.items()):
        table.add_row(order, str(new.apheresis.day), new.manufacturing.site, str(new.manufacturing.start_day),
                      str(new.infusion_window.from_day), "moved" if order in moves else "kept")
    for order, why in sorted(result.unplaced.items()):
        table.add_row(order, "-", "-", "-", "-", f"[red]unplaced: {why}[/red]")
    console.print(table)
    console.print(f"{len(book)} open, {len(requests)} re-planned ({result.status}, {result.seconds:.1f} s): "
                  f"{len(moves)} moved{' (dry run: nothing booked)' if dry_run else f', {appended} events'}, "
                  f"{len(result.unplaced)} unplaced")
