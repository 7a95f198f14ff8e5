"""Event data of access tokens: a token's issue and its revocation, on its holder's stream
(the user's or the device's). The token and its digest are never in an event: only its random
``token_id`` (the ``access_tokens`` row keeps the digest).

Issued: every long-lived token (a device's or an integrator account's). A person's sign-in and
refreshed tokens are not events (one per sign-in and per refresh would swamp the user streams;
``AccessDenied`` / ``UserAuthenticated`` already record what matters of sign-ins); they are
listed by ``ledger tokens list``. Revoked: every revocation through the API or the CLI, any kind.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from ..datatypes import EventData, Identifier, UtcTime
from .events_case import Name, Reason
from .spec import UNSIGNED, EventSpec, NotExported

TokenId = Annotated[str, Field(pattern=r"^tok-[0-9a-f]{16}$")]
TokenKind = Literal["user", "integrator", "device"]


class TokenIssued(EventData):
    token_id: TokenId
    principal: Identifier
    kind: TokenKind
    expires_at: UtcTime | None = None
    label: Name | None = None


class TokenRevoked(EventData):
    token_id: TokenId
    principal: Identifier
    kind: TokenKind
    expires_at: UtcTime | None = None
    label: Name | None = None
    reason: Reason


ACCESS_EVENTS: dict[str, type[EventData]] = {m.__name__: m for m in (TokenIssued, TokenRevoked)}

SECURITY = NotExported("access security records: not supply-chain visibility")

ACCESS_SPECS: tuple[EventSpec[Any], ...] = (
    EventSpec(TokenIssued, (), lambda d: f"{d.kind} token {d.token_id} issued to {d.principal}", SECURITY,
              correctable=False, signature=UNSIGNED),
    EventSpec(TokenRevoked, (), lambda d: f"{d.kind} token {d.token_id} of {d.principal} revoked", SECURITY,
              correctable=False, signature=UNSIGNED),
)
