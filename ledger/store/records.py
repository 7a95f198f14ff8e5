"""How a sealed event is kept in the ``eventsourcing`` store.

Each stored row's ``state`` is the JCS bytes of ``{"envelope", "hash", "seal", "key_id"}``:
plain canonical JSON, so an independent verifier can read the table with nothing but SQL
and a JSON parser. ``originator_id``/``originator_version`` of the row are the envelope's
``stream``/``seq``. Key lifecycle events get their own topic so the verifier can find them
without reading every row.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import Transcoder
from eventsourcing.utils import get_topic
from pydantic import BaseModel, ConfigDict

from ..envelope import canonical, parse
from ..keys.keyevents import KEY_EVENTS


class SealedEvent:
    """One sealed envelope, as the ``eventsourcing`` library sees it (a domain event)."""

    originator_id: UUID
    originator_version: int

    def __init__(self, envelope: dict[str, Any], hash: str, seal: str, key_id: str,
                 envelope_jcs: bytes | None = None) -> None:
        self.originator_id = UUID(envelope["stream"])
        self.originator_version = envelope["seq"]
        self.envelope = envelope
        self.hash = hash
        self.seal = seal
        self.key_id = key_id
        if envelope_jcs is not None:  # already canonicalised to hash it: not done twice
            self._envelope_jcs = envelope_jcs

    @property
    def type(self) -> str:
        return self.envelope["type"]

    def to_json(self) -> dict[str, Any]:
        return {"envelope": self.envelope, "hash": self.hash, "seal": self.seal, "key_id": self.key_id}


class SealedKeyEvent(SealedEvent):
    """A sealed key lifecycle event (device keys, users' e-signature keys)."""


# Every stored row carries its class's topic ("<module>:<class>", the library's get_topic), so the
# topic is part of the stored format: it keeps naming the module these classes were first defined
# in (ledger/records.py), wherever this module lives.
SealedEvent.__module__ = SealedKeyEvent.__module__ = "ledger.records"
EVENT_TOPIC = get_topic(SealedEvent)
KEY_EVENT_TOPIC = get_topic(SealedKeyEvent)


def record_class(type_name: str) -> type[SealedEvent]:
    return SealedKeyEvent if type_name in KEY_EVENTS else SealedEvent


class CanonicalTranscoder(Transcoder):
    """Stores event state as RFC 8785 canonical JSON (no custom type tags)."""

    def encode(self, obj: Any) -> bytes:
        envelope_jcs = obj.pop("_envelope_jcs", None) if isinstance(obj, dict) else None
        if envelope_jcs is None:
            return canonical(obj)
        # JCS of {envelope, hash, key_id, seal}: keys in that (sorted) order, the envelope's
        # canonical bytes spliced in as they were hashed; the other members are plain strings.
        return b"".join((b'{"envelope":', envelope_jcs, b',"hash":', canonical(obj["hash"]),
                         b',"key_id":', canonical(obj["key_id"]), b',"seal":', canonical(obj["seal"]), b"}"))

    def decode(self, data: bytes) -> Any:
        return parse(data)


class Receipt(BaseModel):
    """What the writer of an event gets back; ``position`` is its place in the global log.
    The API answers it as it is (``api.schemas.AppendResponse``)."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    stream: str
    seq: int
    hash: str
    position: int
    recorded_at: str

    def to_json(self) -> dict[str, Any]:
        return self.model_dump()
