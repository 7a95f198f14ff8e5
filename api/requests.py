"""What the API takes that is not a command's data: signatures, and the shared field types.

A command's request data (``data`` of ``POST /v1/events``) is declared beside its service
method (``ledger.services``), with the domain's constrained types, so the API refuses at the
door what the domain would refuse later and ``/openapi.json`` shows the same bounds. Every
field carries a description. Patient identifiers (``mrn``, ``wristband``, ``donor_id``) have
no domain type: they are only pseudonymised, never stored.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ledger.domain.events_case import Reason
from ledger.domain.spec import Meaning
from ledger.services.commands import Ident, Name, Secret

__all__ = ["BackfillReason", "DeviceSig", "EsignInput", "Ident", "Meaning", "Name", "Reason", "Secret"]


BackfillReason = Annotated[Reason | None, Field(description=(
    "why an event that occurred more than `LEDGER_BACKFILL_HOURS` ago is recorded only now: required "
    "then, with the `backfill` permission, and kept in a `Backfilled` event"))]


class EsignInput(BaseModel):
    """Part 11 signature: both components (user id and password) on every signing."""

    model_config = ConfigDict(extra="forbid")
    user_id: Ident = Field(description="the signer: the signed-in user, or the user named by `on_behalf`")
    password: Secret = Field(description="the signer's password (re-authentication, 11.200)")
    meaning: Meaning = Field(description="what the signature means; a signed step requires its own meaning")


class DeviceSig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: Ident = Field(description="the device id")
    key_id: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")] = Field(description="the device key's id (16 hex digits)")
    nonce: Annotated[str, Field(max_length=128)] | None = Field(None, description=(
        "a value the device never uses again (1-128 of A-Z a-z 0-9 . _ : -); required, and signed"))
    sig: Annotated[str, Field(max_length=200)] = Field(description=(
        "the device's Ed25519 signature (base64) over JCS {type, stream, occurred_at, data, device, nonce}"))
