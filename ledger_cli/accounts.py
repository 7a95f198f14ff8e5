"""``ledger users unlock``, ``reset-password`` and ``revoke-signing-key``: recorded as events by the
person running the CLI (``ledger --as USER``, an administrator; see ``common.acting``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from .common import acting, one_off_container
from .service import users_app

console = Console(stderr=True)
Reason = Annotated[str, typer.Option(help="Why (recorded in the audit trail).")]


@users_app.command("unlock")
def users_unlock(user_id: Annotated[str, typer.Argument(help="User id.")], reason: Reason) -> None:
    """End a user's sign-in back-off (and lift a lock recorded by an older ledger): `UserUnlocked`."""
    with one_off_container() as container:
        container.services.identity.unlock(acting(container), user_id=user_id, reason=reason)
    console.print(f"unlocked {user_id}")


@users_app.command("reset-password")
def users_reset_password(
    user_id: Annotated[str, typer.Argument(help="User id.")],
    reason: Reason,
    password: Annotated[str, typer.Option(prompt="Temporary password", hide_input=True, confirmation_prompt=True,
                                          help="Temporary password; the user must change it at the next sign-in.")],
) -> None:
    """Set a temporary password (`PasswordReset`, a new e-signature key) and end the user's sessions."""
    with one_off_container() as container:
        container.services.identity.reset_password(acting(container), user_id=user_id, password=password, reason=reason)
        container.tokens.revoke_all(user_id)
    console.print(f"temporary password set for {user_id}: it must be changed at the next sign-in")


@users_app.command("revoke-signing-key")
def users_revoke_signing_key(user_id: Annotated[str, typer.Argument(help="User id.")], reason: Reason) -> None:
    """Revoke the user's e-signature key (`UserSigningKeyRevoked`), e.g. on a suspected compromise.

    The user cannot sign until they issue a new key with their password (`POST /v1/auth/signing-key`)
    or their password is changed or reset; their earlier signatures stay valid."""
    with one_off_container() as container:
        container.services.identity.revoke_signing_key(acting(container), user_id=user_id, reason=reason)
    console.print(f"e-signature key of {user_id} revoked: no signing until a new key is issued")
