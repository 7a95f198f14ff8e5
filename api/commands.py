"""Every domain event a client may submit, as a typed command (``POST /v1/events``).

The commands are declared next to their service methods (``ledger.services.commands``): each
names its event (the domain's data model), its target (``coi``, ``unit_id`` or ``stream``),
its request data and the service method that records it. Here they become request models, a
discriminated union on ``type``, so ``/openapi.json`` documents every event's fields. The
roles and the Part 11 signature a command takes come from its event's spec.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model

from ledger.domain.catalogue import DOMAIN_EVENTS
from ledger.services.commands import Command, registered  # importing ledger.services declares them

from .policy import EVENT_ROLES
from .requests import BackfillReason, DeviceSig, EsignInput, Ident, Name

__all__ = ["COMMANDS", "REQUEST_MODELS", "Command", "EventRequest"]

_ORDER = {name: index for index, name in enumerate(DOMAIN_EVENTS)}
COMMANDS: dict[str, Command] = {c.type: c for c in sorted(registered(), key=lambda c: _ORDER[c.type])}


_TARGET_TYPES: dict[str, Any] = {"coi": Name, "unit_id": UUID, "stream": UUID}
_TARGETS = {"coi": "the case's COI id", "unit_id": "the unit (or container) the event is about",
            "stream": "the stream of the event being corrected, or of the correction reviewed (a case or unit id)"}


def _request_model(command: Command) -> type[BaseModel]:
    signature = command.signature
    fields: dict[str, Any] = {
        "type": (Literal[command.type], ...),  # type: ignore[valid-type]
        "occurred_at": (AwareDatetime | None, Field(default=None, description="when it happened (RFC 3339, zone)")),
        "backfill_reason": (BackfillReason, None),
        "site": (Ident | None, Field(default=None, description="where it happened (a registered site id)")),
        "on_behalf": (Ident | None, Field(default=None, description=(
            "the user a device or integrator acts for: only with that user's own `esign` in the same request"))),
        "data": (command.data, Field(description=f"the {command.type} event's fields")),
        "esign": (EsignInput | None, Field(default=None, description=(
            f"Part 11 e-signature ({signature.describe()}): kept in the record's envelope, or the "
            "request is refused (`SIGNATURE_NOT_ACCEPTED`, `WRONG_SIGNATURE_MEANING`)"))),
        "device_sig": (DeviceSig | None, Field(default=None, description="a signing device's signature")),
    }
    if command.target != "none":
        fields[command.target] = (_TARGET_TYPES[command.target], Field(description=_TARGETS[command.target]))
    roles = ", ".join(EVENT_ROLES[command.type])
    return create_model(f"{command.type}Request", __config__=ConfigDict(extra="forbid"),
                        __doc__=f"{command.type}: may be posted by the roles {roles}.", **fields)


REQUEST_MODELS = {name: _request_model(command) for name, command in COMMANDS.items()}
EventRequest = Annotated[Union[tuple(REQUEST_MODELS.values())], Field(discriminator="type")]  # noqa: UP007
