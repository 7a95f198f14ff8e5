"""The catalogue of event types the ledger accepts.

Each type name maps to a pydantic model of its ``data``. Validation happens before anything
is written; what is stored (and hashed) is the model's JSON dump, so equal inputs always
give equal bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import InvalidEvent, UnknownEventType
from .keyevents import KEY_EVENTS


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
        try:
            parsed = model.model_validate(dict(data))
        except ValidationError as exc:
            raise InvalidEvent(
                f"{type_name}: {_summary(exc)}",
                code="INVALID_DATA",
                errors=exc.errors(include_url=False, include_context=False, include_input=False),
            ) from None
        return parsed.model_dump(mode="json")


def _summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "data"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
