"""Commands declared next to their service methods: ``@command(EventClass, target=..., request=Model)``.

The decorator records, on the service method itself, what a client may submit for one event
type (``POST /v1/events``): the event it records, what it targets (``coi``, ``unit_id``,
``stream`` or ``none``), its request data model and the data field naming its site. The API
builds its typed requests from :func:`registered`; roles and the signature rule come from the
event's spec. Request data models subclass :class:`Data`, use the domain's
constrained types and describe every field; ``Data.arguments`` maps them onto the method's
keyword arguments.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ..datatypes import Decimal2, Identifier
from ..domain.catalogue import spec_of
from ..domain.spec import Signature
from ..errors import InvalidEvent
from .executor import Context, SignOff

Target = Literal["none", "coi", "unit_id", "stream"]
F = TypeVar("F", bound=Callable[..., Any])

Name = Identifier
"""A printable name or identifier (the domain's ``Identifier``)."""
Ident = Annotated[Identifier, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$",
                                    description="an identifier: user, device, site, party, GLN ...")]
Secret = Annotated[str, Field(min_length=1, max_length=256)]
Volume = Annotated[Decimal2, Field(ge=0)]


class Data(BaseModel):
    """A command's request data: its fields are the service method's keyword arguments, unless
    ``arguments`` says otherwise."""

    model_config = ConfigDict(extra="forbid")

    def arguments(self) -> dict[str, Any]:
        return self.model_dump()


@dataclass(frozen=True)
class Command:
    event: type[BaseModel]
    target: Target
    data: type[Data]
    method: Callable[..., Any]
    """The service method (unbound); :meth:`handle` calls it on the service that has it."""
    target_arg: str | None = None  # the method's keyword for the target (default: the target's name)
    site_field: str | None = None  # the data field naming where the event happens (its site)

    @property
    def type(self) -> str:
        return self.event.__name__

    @property
    def signature(self) -> Signature:
        """Whether this step takes a Part 11 signature, and with which meanings (its event's spec)."""
        return spec_of(self.type).signing

    @cached_property
    def signed(self) -> bool:
        """Whether the method takes ``signoff`` (read once: ``inspect.signature`` costs ~70 us)."""
        return "signoff" in inspect.signature(self.method).parameters

    def handle(self, services: Any, ctx: Context, target: Any, data: Data, signoff: SignOff | None) -> Any:
        """Call the method on ``services`` (``Services``, or ``Services.plan`` for a step)."""
        kwargs = data.arguments()
        if self.target != "none":
            kwargs[self.target_arg or self.target] = target
        if self.signed:
            kwargs["signoff"] = signoff
        return getattr(_service_of(services, self.method), self.method.__name__)(ctx, **kwargs)

    def site(self, data: Any, given: str | None) -> str | None:
        """The event's site: ``site_field``'s value when the command has one (a ``site`` given
        must agree), else the request's ``site``. Both enrolment routes decide it here."""
        where = getattr(data, self.site_field) if self.site_field else None
        if where is None:
            return given
        if given is not None and given != where:
            raise InvalidEvent(f"a {self.type} is recorded at its {self.site_field} {where!r}, not {given!r}",
                               code="SITE_MISMATCH")
        return where


_REGISTRY: list[Command] = []


def command(event: type[BaseModel], *, target: Target, request: type[Data], target_arg: str | None = None,
            site_field: str | None = None) -> Callable[[F], F]:
    """Declare the decorated service method as the command that records ``event``."""

    def register(method: F) -> F:
        if method.__name__ == "<lambda>":
            raise TypeError(f"the {event.__name__} command must be a named service method, not a lambda")
        _REGISTRY.append(Command(event, target, request, method, target_arg, site_field))
        return method

    return register


def registered() -> tuple[Command, ...]:
    """Every declared command (the service modules declare them when ``ledger.services`` loads)."""
    return tuple(_REGISTRY)


def _service_of(services: Any, method: Callable[..., Any]) -> Any:
    for service in vars(services).values():
        if getattr(type(service), method.__name__, None) is method:
            return service
    raise LookupError(f"no service has {method.__qualname__}")
