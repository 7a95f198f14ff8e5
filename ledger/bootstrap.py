"""Build the ledger from settings: the one place keys, database and catalogue meet."""

from __future__ import annotations

from datetime import timedelta

from .domain.identifiers import purpose_key
from .domain.tokens import PRINCIPAL_EVENTS
from .keys.keystore import KeyStore, KeyStoreError
from .keys.sealing import KeyRing, SealingKey
from .settings import Settings
from .store.application import Ledger
from .store.event_types import EventCatalogue


def key_store(settings: Settings) -> KeyStore:
    return KeyStore(settings.keys_dir)


def published_keys(settings: Settings) -> KeyRing | None:
    """The published key ring, or None when it cannot be read (then no seal verifies)."""
    try:
        return key_store(settings).key_ring()
    except KeyStoreError:
        return None


def sealing_key(settings: Settings) -> SealingKey:
    """The active sealing key; in dev mode the first start creates one."""
    store = key_store(settings)
    passphrase = settings.key_passphrase.get_secret_value()
    if not store.exists():
        if not settings.dev_mode:
            raise KeyStoreError(
                f"no sealing key in {store.directory}: run `ledger init` (outside dev mode "
                "keys are never created implicitly)"
            )
        return store.create(passphrase)
    return store.active_key(passphrase)


def open_ledger(settings: Settings, catalogue: EventCatalogue | None = None) -> Ledger:
    return Ledger(
        settings.database,
        sealing_key(settings),
        catalogue or EventCatalogue(),
        pool_size=settings.pool_size,
        claim_key=purpose_key(settings.site_secret.get_secret_value().encode(), "idempotency"),
        occurred_window=(timedelta(days=settings.occurred_past_days),
                         timedelta(minutes=settings.occurred_future_minutes)),
        notify_types=PRINCIPAL_EVENTS,
    )
