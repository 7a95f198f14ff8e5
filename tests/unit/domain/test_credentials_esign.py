from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.credentials import (
    FAST_TEST_PARAMS,
    WrappedKey,
    WrongPassword,
    check_password_policy,
    hash_password,
    needs_rehash,
    new_signing_key,
    public_raw,
    rewrap,
    unwrap_signing_key,
    verify_password,
)
from ledger.domain.esign import (
    REQUIRED_MEANING,
    Manifestation,
    require_esign,
    sign_record,
    verify_record_signature,
)
from ledger.errors import InvalidEvent, RuleViolation

from .conftest import Ledger

PW = "correct horse battery staple"
PRIVATE = Ed25519PrivateKey.generate()


def test_password_hash_is_argon2id_and_verifies() -> None:
    stored = hash_password(PW, FAST_TEST_PARAMS)
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, PW)
    assert not verify_password(stored, PW + "!")
    assert not verify_password("not a hash", PW)
    assert needs_rehash(stored)  # default parameters are stronger than the test ones
    assert not needs_rehash(stored, FAST_TEST_PARAMS)


@pytest.mark.parametrize(("password", "reason"), [
    ("short", "characters"), ("x" * 2000, "characters"), (" " * 12, "whitespace"), ("\t \n" * 6, "whitespace"),
    ("my-alice-password-2026", "user id"), ("password1234", "guess"), ("qwertyuiop123", "guess"),
    ("Quinn Adams 1", "guess"),  # the printed name is a hint zxcvbn tries first
])
def test_password_policy_refuses_weak_passwords_with_the_reason(password: str, reason: str) -> None:
    with pytest.raises(InvalidEvent) as err:
        check_password_policy(password, user_id="alice", hints=["Quinn Adams"])
    assert err.value.code == "WEAK_PASSWORD" and err.value.status == 422
    assert reason in err.value.detail


def test_password_policy_accepts_strong_passwords_and_has_a_configurable_length() -> None:
    for password in (PW, "demo-password-123", "a long password 9"):
        check_password_policy(password, user_id="alice")
    with pytest.raises(InvalidEvent):
        check_password_policy(PW, user_id="alice", min_length=40)


@pytest.fixture(scope="module")
def key() -> tuple[WrappedKey, str, str]:
    return new_signing_key(PW, params=FAST_TEST_PARAMS)


def test_wrapped_key_opens_only_with_its_password(key: tuple[WrappedKey, str, str]) -> None:
    wrapped, public, key_id = key
    assert len(key_id) == 16 and wrapped.key_id == key_id
    assert wrapped.params == FAST_TEST_PARAMS and len(wrapped.salt) == 16
    assert wrapped.ciphertext and PW.encode() not in wrapped.ciphertext
    unwrap_signing_key(wrapped, PW)
    with pytest.raises(WrongPassword) as err:
        unwrap_signing_key(wrapped, "wrong password entirely")
    assert err.value.code == "WRONG_PASSWORD" and err.value.status == 401


def test_rewrap_changes_the_password_not_the_key(key: tuple[WrappedKey, str, str]) -> None:
    wrapped, public, key_id = key
    again = rewrap(wrapped, PW, "a brand new passphrase")
    assert again.key_id == key_id and again.salt != wrapped.salt
    digest = hashlib.sha256(b"record").digest()
    signature = sign_record(unwrap_signing_key(again, "a brand new passphrase"), digest)
    assert verify_record_signature(public, digest, signature)
    with pytest.raises(WrongPassword):
        unwrap_signing_key(again, PW)
    with pytest.raises(WrongPassword):
        rewrap(wrapped, "not the old one", "whatever else")


def test_wrapped_key_round_trips_and_is_bound_to_its_key_id(
        key: tuple[WrappedKey, str, str]) -> None:
    wrapped, _, _ = key
    assert WrappedKey.from_dict(wrapped.to_dict()) == wrapped
    other, _, _ = new_signing_key(PW, params=FAST_TEST_PARAMS)
    moved = WrappedKey(wrapped.salt, wrapped.nonce, wrapped.ciphertext, wrapped.params,
                       other.key_id)
    with pytest.raises(WrongPassword):
        unwrap_signing_key(moved, PW)
    with pytest.raises(ValueError):
        WrappedKey.from_dict({**wrapped.to_dict(), "algorithm": "DES"})


@settings(max_examples=25)
@given(st.binary(min_size=1), st.binary(min_size=1))
def test_a_signature_does_not_move_to_another_digest(a: bytes, b: bytes) -> None:
    one, two = hashlib.sha256(a).digest(), hashlib.sha256(b).digest()
    signature = sign_record(PRIVATE, one)
    public = base64.b64encode(public_raw(PRIVATE)).decode()
    assert verify_record_signature(public, one, signature)
    assert verify_record_signature(public, two, signature) == (one == two)


def test_signature_verification_never_raises(key: tuple[WrappedKey, str, str]) -> None:
    wrapped, public, _ = key
    digest = hashlib.sha256(b"x").digest()
    signature = sign_record(unwrap_signing_key(wrapped, PW), digest)
    assert not verify_record_signature("!!", digest, signature)
    assert not verify_record_signature(public, digest, "%%%")
    assert not verify_record_signature(public, digest[:31], signature)
    assert not verify_record_signature(public, digest, signature[:-4] + "AAA=")
    with pytest.raises(ValueError):
        sign_record(unwrap_signing_key(wrapped, PW), b"not a digest")


def test_manifestation_shows_name_time_and_meaning() -> None:
    m = Manifestation("qa1", "Quinn Adams", "released", datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
                      "0123456789abcdef")
    assert m.render() == "Quinn Adams (qa1), 2026-01-02 03:04:00 UTC, released"
    assert "signature" not in m.as_esign()
    assert m.as_esign("c2ln")["signature"] == "c2ln"
    assert Manifestation.from_esign(m.as_esign("c2ln")) == m
    with pytest.raises(InvalidEvent):
        Manifestation("qa1", "Quinn", "liked", m.signed_at, m.key_id)
    with pytest.raises(InvalidEvent):
        Manifestation("qa1", "Quinn", "released", datetime(2026, 1, 2), m.key_id)


def test_required_meanings() -> None:
    assert REQUIRED_MEANING == {"ProductReleased": "released", "ExcursionAssessed": "assessed",
                                "ProductInfused": "administered", "AuditTrailReviewed": "reviewed",
                                "CorrectionApproved": "approved", "CorrectionRejected": "reviewed",
                                "AuditLogReviewed": "reviewed", "ExceptionDispositioned": "reviewed",
                                "DeviationClosed": "approved", "StepWitnessed": "reviewed",
                                "ReviewSignedOff": "reviewed", "ProductSpecApproved": "approved"}


def test_require_esign_checks(staffed: Ledger) -> None:
    led = staffed
    qa = led.user("qa.quinn")

    def code(event_type, manifestation, signer, actor="qa.quinn"):
        with pytest.raises(RuleViolation) as err:
            require_esign(event_type, manifestation, signer, actor=actor)
        return err.value.code

    good = led.sign("qa.quinn", "released")
    require_esign("ProductReleased", good, qa, actor="qa.quinn")
    require_esign("QCResultRecorded", None)  # not a signed step
    assert code("ProductReleased", None, qa) == "ESIGNATURE_REQUIRED"
    assert code("ProductReleased", led.sign("qa.quinn", "approved"), qa) == "WRONG_SIGNATURE_MEANING"
    assert code("ProductReleased", good, qa, actor="someone.else") == "SIGNER_NOT_AUTHORISED"
    assert code("ProductReleased", good, None) == "SIGNER_NOT_AUTHORISED"
    assert code("ProductReleased", good, led.user("dr.chen")) == "SIGNER_NOT_AUTHORISED"
    courier = led.sign("courier.kim", "released")
    assert code("ProductReleased", courier, led.user("courier.kim"),
                actor="courier.kim") == "SIGNER_NOT_AUTHORISED"
    clinician = led.sign("dr.chen", "administered")
    assert code("ProductInfused", clinician, qa, actor="dr.chen") == "SIGNER_NOT_AUTHORISED"
    require_esign("ProductInfused", clinician, led.user("dr.chen"), actor="dr.chen")
    renamed = Manifestation("qa.quinn", "Q. Adams", "released", led.now, good.key_id)
    assert code("ProductReleased", renamed, qa) == "SIGNER_NOT_AUTHORISED"
    stale = Manifestation("qa.quinn", "Quinn Adams", "released", led.now, "ffffffffffffffff")
    assert code("ProductReleased", stale, qa) == "SIGNER_NOT_AUTHORISED"
