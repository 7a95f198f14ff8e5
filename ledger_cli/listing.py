"""``ledger cases list``, ``ledger users list``, ``ledger sites list``: read only, nothing appended.

Each first brings the read models up to date (as a server worker would), then reads: cases from
the cases read model, users and sites from their own registry streams, found through the audit
trail's ``UserCreated`` / ``SiteRegistered`` rows.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

import typer

from ledger.domain.events_registry import SiteRegistered, UserCreated
from ledger.domain.registry import fold_site
from ledger.domain.users import fold_user
from projections.cases_query import list_cases
from projections.common import rows, sql

from .common import open_container
from .service import users_app

cases_app = typer.Typer(help="Patient and donor cases (no patient data).", no_args_is_help=True)
sites_app = typer.Typer(help="Sites known to the ledger (hospitals, plants, courier hubs).", no_args_is_help=True)


class Format(StrEnum):
    table = "table"
    json = "json"


class CaseFormat(StrEnum):
    table = "table"
    json = "json"
    coi = "coi"


def _emit(items: list[dict[str, Any]], columns: tuple[str, ...], fmt: str) -> None:
    if fmt == "json":
        for item in items:
            typer.echo(json.dumps(item, ensure_ascii=False))
        return
    cells = [[_cell(item.get(c)) for c in columns] for item in items]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    for row in [list(columns), *cells]:
        typer.echo("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value)) or "-"
    return str(value)


def _registry(stream_type: str, fold: Any) -> list[Any]:
    container = open_container()
    try:
        container.catch_up()
        with container.engine.connect() as conn:
            streams = rows(conn.execute(sql(
                "SELECT stream FROM audit_trail WHERE type = :type ORDER BY position"), {"type": stream_type}))
        reads = container.services.reads()
        return [fold(reads.envelopes(UUID(str(row["stream"])))) for row in streams]
    finally:
        container.close()


@cases_app.command("list")
def cases_list(
    kind: Annotated[str | None, typer.Option(help="autologous, allogeneic or donor.")] = None,
    status: Annotated[str | None, typer.Option(help="Only cases in this status.")] = None,
    treating_site: Annotated[str | None, typer.Option(help="Only cases treated at this site.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many, oldest first.")] = 100,
    fmt: Annotated[CaseFormat, typer.Option("--format", help="table, json (a line each) or coi (COIs only).")]
    = CaseFormat.table,
) -> None:
    """List cases in enrolment order."""
    container = open_container()
    try:
        container.catch_up()
        with container.engine.connect() as conn:
            items = list_cases(conn, kind=kind, status=status, treating_site=treating_site, limit=limit)["items"]
    finally:
        container.close()
    if fmt == CaseFormat.coi:
        for item in items:
            typer.echo(item["coi"])
        return
    _emit(items, ("coi", "kind", "status", "product", "treating_site", "units"), fmt.value)


@users_app.command("list")
def users_list(fmt: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.table) -> None:
    """List users: roles, sites and whether they may sign in (no password data)."""
    users = _registry(UserCreated.__name__, fold_user)
    items = [{"user": u.user_id, "printed_name": u.printed_name, "roles": list(u.roles), "sites": list(u.sites),
              "state": "deactivated" if u.deactivated else "locked" if u.locked else "active"} for u in users]
    _emit(items, ("user", "printed_name", "roles", "sites", "state"), fmt.value)


@sites_app.command("list")
def sites_list(fmt: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.table) -> None:
    """List registered sites (registered with `POST /v1/sites`)."""
    sites = _registry(SiteRegistered.__name__, fold_site)
    items = [{"site": s.site_id, "name": s.name, "kind": s.kind, "gln": s.gln} for s in sites]
    _emit(items, ("site", "name", "kind", "gln"), fmt.value)
