"""Field types shared by event data models (pydantic v2).

Every event's ``data`` is validated by a pydantic model built from these, then dumped in JSON
mode, so what is hashed is always the normalised form (UTC ``Z`` times, bounded numbers).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError

from .errors import InvalidEvent
from .timefmt import format_utc, parse_utc


def _aware_time(value: object) -> datetime:
    if isinstance(value, datetime):
        format_utc(value)  # refuses naive datetimes
        return value
    if isinstance(value, str):
        return parse_utc(value)
    raise ValueError("a time must be an RFC 3339 string with a zone")


UtcTime = Annotated[
    datetime,
    BeforeValidator(_aware_time),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
]
"""An aware instant; accepts RFC 3339 with a zone, always serialised as ``...Z``."""


def _two_decimals(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    if round(value, 2) != value:
        raise ValueError("at most 2 decimals are kept: round the value before sending it")
    return value


Celsius = Annotated[float, Field(ge=-273.15, le=1000), AfterValidator(_two_decimals)]
"""A temperature in degrees Celsius with at most two decimals (JCS fixes its text)."""

Decimal2 = Annotated[float, AfterValidator(_two_decimals)]
"""Any measured quantity with at most two decimals."""

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
"""A printable identifier (user, device, site, label id ...)."""

Text = Annotated[str, Field(max_length=2000)]


_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f]")


def has_control_character(text: str, *, multiline: bool = True) -> bool:
    """True if ``text`` holds U+0000-U+001F or U+007F-U+009F (multi-line text may hold \\n, \\t).
    PostgreSQL text cannot store U+0000: one sealed NUL would stop every read model."""
    return (_CONTROL_IN_TEXT if multiline else _CONTROL_IN_LINE).search(text) is not None


class EventData(BaseModel):
    """Base of every event's ``data`` model: unknown fields are refused, instances are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: Mapping[str, Any], *, name: str | None = None) -> M:
    """``model`` built from ``data``, or ``InvalidEvent(code="INVALID_DATA")`` naming the fields."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidEvent(
            f"{name or model.__name__}: {validation_summary(exc)}",
            code="INVALID_DATA",
            errors=exc.errors(include_url=False, include_context=False, include_input=False),
        ) from None


def validation_summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "data"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
