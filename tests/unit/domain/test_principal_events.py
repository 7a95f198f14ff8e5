"""Every event type a bearer token's principal is folded from is announced when appended
(``PRINCIPAL_EVENTS``): otherwise another process would keep serving a principal it cached."""

from ledger.domain import qualification, registry, users
from ledger.domain.catalogue import build_catalogue
from ledger.domain.tokens import PRINCIPAL_EVENTS


def _matched(evolve) -> set[str]:
    """The event classes an ``_evolve`` function's ``match`` names (its code's global names)."""
    return set(evolve.__code__.co_names)


def test_every_type_the_principal_folds_match_is_announced():
    types = set(build_catalogue().names())
    folded = (_matched(users._evolve) | _matched(registry._evolve_device) | _matched(qualification._evolve)) & types
    assert {"UserCreated", "UserRolesChanged", "UserDeactivated", "DeviceDeactivated", "TrainingRecorded"} <= folded
    assert folded <= PRINCIPAL_EVENTS


def test_every_announced_type_is_an_event_type():
    assert set(PRINCIPAL_EVENTS) <= set(build_catalogue().names())
