"""Times in the ledger: always aware, always rendered as RFC 3339 UTC with a ``Z``.

The fixed text form is ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (microseconds always present) so the
same instant always hashes to the same bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from .errors import InvalidEvent


def format_utc(moment: datetime) -> str:
    """Render an aware datetime as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; refuses naive datetimes
    and times the fixed form cannot carry (before year 1000, or beyond 9999 once in UTC)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidEvent("a time without a time zone is ambiguous", code="TIMEZONE_REQUIRED")
    # isoformat of the naive UTC time writes the same text as strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # for years 1000-9999, in a third of the time (every event renders two or three times)
    return _in_utc(moment).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _in_utc(moment: datetime) -> datetime:
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise InvalidEvent(f"time {moment.isoformat()} is out of range", code="INVALID_TIME") from None
    if utc.year < 1000:  # strftime would not pad the year to four digits
        raise InvalidEvent(f"time {moment.isoformat()} is out of range", code="INVALID_TIME")
    return utc


def parse_utc(text: str) -> datetime:
    """Parse an RFC 3339 time with a zone (``Z`` or ``±HH:MM``) into an aware UTC datetime."""
    if not isinstance(text, str) or len(text) > 40:
        raise InvalidEvent("a time must be an RFC 3339 string", code="INVALID_TIME")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidEvent(f"not an RFC 3339 time: {text!r}", code="INVALID_TIME") from None
    if "T" not in text.upper():
        raise InvalidEvent(f"not an RFC 3339 date-time: {text!r}", code="INVALID_TIME")
    if moment.tzinfo is None:
        raise InvalidEvent(
            f"time {text!r} has no zone: send it in UTC with a Z", code="TIMEZONE_REQUIRED"
        )
    return _in_utc(moment)


def normalise_utc(text: str) -> str:
    """Parse then re-render, so any accepted time is stored in the one fixed form."""
    return format_utc(parse_utc(text))


def utc_now() -> datetime:
    return datetime.now(UTC)
