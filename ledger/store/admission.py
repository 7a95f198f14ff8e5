"""Admission: every check a draft passes before anything is written.

Data is validated against the event catalogue and normalised (the stored form is what is
hashed), numbers keep at most 2 decimals, identifiers are printable, sizes are bounded, times
carry zones, and a device's signature is verified against the keys registered for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson

from ..datatypes import has_control_character
from ..envelope import canonical, submission_bytes
from ..errors import DeviceSignatureRefused, Forbidden, InvalidEvent, PayloadTooLarge
from ..keys.keydir import KeyDirectory
from ..timefmt import normalise_utc, parse_utc
from .drafts import Draft
from .event_types import EventCatalogue

MAX_EVENT_BYTES = 4 * 1024 * 1024
MAX_BATCH_EVENTS = 1000


class Admission:
    def __init__(
        self,
        catalogue: EventCatalogue,
        device_events: Callable[[str], Iterable[Mapping[str, Any]]],
        clock: Callable[[], datetime],
        occurred_window: tuple[timedelta, timedelta] | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.device_events = device_events  # the envelopes of a device's registry stream
        self.clock = clock
        self.occurred_window = occurred_window  # (past, future) around the server time, None: any

    def admit(self, drafts: Sequence[Draft]) -> list[Draft]:
        """The drafts, normalised; raises a typed LedgerError before anything is written."""
        return [self._validate(d) for d in self._check_batch(drafts)]

    def key_directory_for_device(self, device: str) -> KeyDirectory:
        return KeyDirectory.from_envelopes(self.device_events(device))

    def _check_batch(self, drafts: Sequence[Draft]) -> Sequence[Draft]:
        if not drafts:
            raise InvalidEvent("nothing to append", code="EMPTY_BATCH")
        if len(drafts) > MAX_BATCH_EVENTS:
            raise PayloadTooLarge(f"at most {MAX_BATCH_EVENTS} events per batch")
        return drafts

    def _validate(self, draft: Draft) -> Draft:
        """Normalise and check one draft; raises a typed LedgerError before any write."""
        _refuse_control_characters(draft.data)
        if draft.esign is not None:
            esign = draft.esign
            _refuse_control_characters([esign.signer, esign.printed_name, esign.meaning], "esign")
        data = self.catalogue.normalise(draft.type, draft.data)
        _refuse_imprecise_floats(data)
        if _canonical_size(data) > MAX_EVENT_BYTES:
            raise PayloadTooLarge(f"event data exceeds {MAX_EVENT_BYTES} bytes")
        for name in ("actor", "on_behalf", "site", "device"):
            value = getattr(draft, name)
            if isinstance(value, str) and has_control_character(value, multiline=False):
                raise InvalidEvent(f"{name} holds a control character", code="CONTROL_CHARACTER")
            if value is not None and not _is_identifier(value):
                raise InvalidEvent(f"{name} must be a printable identifier", code="INVALID_FIELD")
        if not draft.actor:
            raise InvalidEvent("every event names its actor", code="INVALID_FIELD")
        if draft.expected_seq is not None and (
            not isinstance(draft.expected_seq, int) or draft.expected_seq < 0
        ):
            raise InvalidEvent("expected_seq must be a non-negative integer", code="INVALID_FIELD")
        occurred_at = normalise_utc(draft.occurred_at) if draft.occurred_at is not None else None
        if occurred_at is not None:
            self._check_occurred_at(occurred_at)
        normalised = Draft(**{**draft.__dict__, "data": data, "occurred_at": occurred_at})
        self._check_device(normalised)
        return normalised

    def _check_occurred_at(self, occurred_at: str) -> None:
        if self.occurred_window is None:
            return
        past, future = self.occurred_window
        now = self.clock()
        if not now - past <= parse_utc(occurred_at) <= now + future:
            raise InvalidEvent(
                f"occurred_at {occurred_at} is outside the accepted window "
                f"({past.days} days before to {int(future.total_seconds() // 60)} minutes after the server time)",
                code="OCCURRED_AT_OUT_OF_WINDOW",
            )

    def _check_device(self, draft: Draft) -> None:
        """A device that was ever given a key signs every submission, itself, with a key valid
        now and a nonce (``submission_bytes``); its nonces are kept unique by the ``Ledger``."""
        signer = (draft.device_sig or {}).get("device")
        device = draft.device or signer
        if device is None:
            return
        if draft.device_sig is not None and draft.device != signer:
            raise DeviceSignatureRefused(
                f"a signature of device {str(signer)!r} is accepted only when that device submits it",
                code="DEVICE_NOT_SUBMITTER",
            )
        keys = self.key_directory_for_device(str(device))
        now = self.clock()
        if draft.device_sig is None:
            if keys.active_device_keys(str(device), now):
                raise DeviceSignatureRefused(
                    f"device {device!r} has a registered key and must sign its submissions",
                    code="DEVICE_SIGNATURE_REQUIRED",
                )
            if keys.ever_had_key(str(device)):
                raise Forbidden(f"every key of device {device!r} is revoked: it may not write until a new "
                                "key is registered", code="DEVICE_KEY_REVOKED")
            return
        nonce = draft.device_sig.get("nonce")
        if not is_nonce(nonce):
            raise DeviceSignatureRefused(
                "a device signature carries a nonce (1-128 characters of A-Z a-z 0-9 . _ : -) that the "
                "device never uses again, and signs it", code="DEVICE_NONCE_REQUIRED")
        key = keys.devices.get((str(device), str(draft.device_sig.get("key_id"))))
        if key is not None and key.revoked_at is not None and key.revoked_at <= now:
            raise Forbidden(f"device key {key.key_id} is revoked", code="DEVICE_KEY_REVOKED")
        message = submission_bytes(type=draft.type, stream=str(draft.stream), occurred_at=draft.occurred_at,
                                   data=draft.data, device=str(device), nonce=nonce)
        reason = keys.check_device_sig(draft.device_sig, message, now)
        if reason is not None:
            raise DeviceSignatureRefused(reason)


_NONCE_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")


def is_nonce(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 128 and set(value) <= _NONCE_CHARACTERS


def _canonical_size(data: Any) -> int:
    """Bytes of ``canonical(data)``, without sorting keys or running the (slow, pure Python) JCS
    serialiser for ordinary events: orjson's text differs from JCS only in key order and number
    forms, at most 4x shorter (e.g. ``1e+20``), so below an eighth of the limit the exact size
    cannot exceed it. What orjson refuses (an integer beyond 64 bits) is measured exactly."""
    try:
        approx = len(orjson.dumps(data))
    except orjson.JSONEncodeError:
        return len(canonical(data))
    return approx if approx * 8 <= MAX_EVENT_BYTES else len(canonical(data))


def _is_identifier(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= 128
        and value.isprintable()
    )


_LEAVES_WITHOUT_TEXT = frozenset({int, float, bool, type(None)})


def _refuse_control_characters(value: Any, path: str = "data") -> None:
    """Every string in the data, keys included, before anything is validated or sealed."""
    if isinstance(value, str):
        if has_control_character(value):
            raise InvalidEvent(f"{path} holds a control character", code="CONTROL_CHARACTER")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and has_control_character(key, multiline=False):
                raise InvalidEvent(f"{path} has a key with a control character", code="CONTROL_CHARACTER")
            if type(item) is str:  # most values are leaves: checked here, with no path built
                if has_control_character(item):
                    raise InvalidEvent(f"{path}.{key} holds a control character", code="CONTROL_CHARACTER")
            elif type(item) not in _LEAVES_WITHOUT_TEXT:
                _refuse_control_characters(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _refuse_control_characters(item, f"{path}[{index}]")


def _refuse_imprecise_floats(value: Any, path: str = "data") -> None:
    """Numbers are kept with at most 2 decimals (JCS fixes their text; readings are 0.01 °C)."""
    if isinstance(value, float):
        if not math.isfinite(value) or round(value, 2) != value:
            raise InvalidEvent(
                f"{path}: {value!r} has more than 2 decimals; round it before sending",
                code="FLOAT_PRECISION",
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_imprecise_floats(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_imprecise_floats(item, f"{path}[{index}]")
