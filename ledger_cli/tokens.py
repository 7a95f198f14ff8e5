"""``ledger tokens list`` and ``ledger tokens revoke``: what the admin routes do, for an operator.

A listing shows each token's id, holder, kind, label, when it was issued, when it expires and
whether it is revoked; never the token or its digest. A revocation is recorded (``TokenRevoked``).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from .common import acting, one_off_container, open_container
from .listing import Format, _emit
from .service import tokens_app

console = Console(stderr=True)


@tokens_app.command("list")
def tokens_list(
    principal: Annotated[str | None, typer.Option(help="Only this user's or device's tokens.")] = None,
    ended: Annotated[bool, typer.Option("--all", help="Include revoked and expired tokens.")] = False,
    fmt: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.table,
) -> None:
    """List tokens, newest first (by default only live ones)."""
    container = open_container()
    try:
        records = container.services.access.store.listing(principal, include_ended=ended)
    finally:
        container.close()
    items = [{"token_id": r.token_id, "principal": r.principal, "kind": r.kind, "label": r.label,
              "issued": r.issued_at.isoformat(), "expires": r.expires_at.isoformat() if r.expires_at else None,
              "revoked": r.revoked_at.isoformat() if r.revoked_at else None} for r in records]
    _emit(items, ("token_id", "principal", "kind", "label", "issued", "expires", "revoked"), fmt.value)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (tok-..., from `ledger tokens list`).")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
) -> None:
    """Revoke a token now; recorded as TokenRevoked on its holder's stream."""
    with one_off_container() as container:
        container.services.access.revoke(acting(container), token_id=token_id, reason=reason)
    console.print(f"token {token_id} revoked")
