"""Acting for someone (``on_behalf``) needs that person's own e-signature, and an active user."""

from __future__ import annotations

import pytest

from ledger.domain.esign import require_on_behalf
from ledger.domain.users import UserState
from ledger.errors import LedgerError

NURSE = UserState(user_id="nurse", printed_name="Nina Nurse", roles=("operator",))


def _code(on_behalf: str, person: UserState, signer: str | None) -> str:
    with pytest.raises(LedgerError) as refused:
        require_on_behalf(on_behalf, person, signer)
    return refused.value.code


def test_only_the_person_acted_for_signs_for_them() -> None:
    require_on_behalf("nurse", NURSE, "nurse")
    assert _code("nurse", NURSE, None) == "ON_BEHALF_UNSIGNED"
    assert _code("nurse", NURSE, "integrator") == "ON_BEHALF_UNSIGNED"


def test_an_unknown_deactivated_or_locked_user_is_not_acted_for() -> None:
    assert _code("ghost", UserState(), "ghost") == "ON_BEHALF_UNKNOWN"
    assert _code("nurse", UserState(user_id="nurse", deactivated=True), "nurse") == "ON_BEHALF_UNKNOWN"
    assert _code("nurse", UserState(user_id="nurse", locked=True), "nurse") == "ON_BEHALF_UNKNOWN"
