"""The event types the ledger accepts: an :class:`EventCatalogue` maps each type name to a pydantic
model of its ``data``. On its own it holds the key events the core relies on; the domain's types
come from :mod:`ledger.domain.catalogue` (``build_catalogue()``).

Validation happens before anything is written; what is stored (and hashed) is the model's JSON
dump, so equal inputs always give equal bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from ..datatypes import validated
from ..errors import InvalidEvent, UnknownEventType
from ..keys.keyevents import KEY_EVENTS


class EventCatalogue:
    def __init__(self, models: Mapping[str, type[BaseModel]] | None = None) -> None:
        self._models: dict[str, type[BaseModel]] = {}
        self.register_all(KEY_EVENTS)
        if models:
            self.register_all(models)

    def register(self, type_name: str, model: type[BaseModel]) -> None:
        existing = self._models.get(type_name)
        if existing is not None and existing is not model:
            raise ValueError(f"event type {type_name!r} is already registered")
        self._models[type_name] = model

    def register_all(self, models: Mapping[str, type[BaseModel]]) -> None:
        for name, model in models.items():
            self.register(name, model)

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._models

    def names(self) -> Iterable[str]:
        return sorted(self._models)

    def model(self, type_name: str) -> type[BaseModel]:
        try:
            return self._models[type_name]
        except KeyError:
            raise UnknownEventType(f"unknown event type {type_name!r}") from None

    def normalise(self, type_name: str, data: Any) -> dict[str, Any]:
        """Validate ``data`` for ``type_name`` and return its canonical JSON-ready form."""
        model = self.model(type_name)
        if not isinstance(data, Mapping):
            raise InvalidEvent("data must be a JSON object", code="INVALID_DATA")
        return validated(model, data, name=type_name).model_dump(mode="json")
