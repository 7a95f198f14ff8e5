"""Webhooks' pure parts: which events a subscription gets (scope, filters, severity), which
targets are refused, the back-off, the sealed secret and the stable message id."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography.exceptions import InvalidTag

from ledger.webhooks.delivery import backoff, message_id
from ledger.webhooks.matching import Terms, severity_passes
from ledger.webhooks.secrets import SecretBox, new_secret
from ledger.webhooks.targets import UrlForbidden, UrlInvalid, check_url, forbidden_reason, resolve

ALERT = {"severity": "warning", "kind": "excursion"}


@pytest.mark.parametrize("minimum, severity, passes", [
    (None, "info", True), ("info", "info", True), ("warning", "info", False), ("warning", "warning", True),
    ("warning", "critical", True), ("critical", "warning", False), ("critical", "critical", True),
    ("critical", None, True),  # an event without a severity is not judged by it
    ("info", "bogus", True), ("critical", "bogus", True),  # an unknown severity is never hidden
])
def test_severity_order_is_info_warning_critical(minimum, severity, passes):
    data = {} if severity is None else {"severity": severity}
    assert severity_passes(data, minimum) is passes


def test_a_subscription_gets_only_what_its_owner_may_read_and_its_filters_let_through():
    site_bound = Terms(frozenset({"AlertRaised", "ExcursionDetected"}), owner_sites=frozenset({"hospital-1"}))
    assert site_bound.wants("ExcursionDetected", "COI-1", {"hospital-1", "factory-1"}, {})
    assert not site_bound.wants("ExcursionDetected", "COI-2", {"hospital-2"}, {})  # another site's case
    assert not site_bound.wants("UnitLabelled", "COI-1", {"hospital-1"}, {})  # not subscribed
    assert not site_bound.wants("SubscriptionCreated", None, {"hospital-1"}, {})
    everything = Terms(frozenset({"AlertRaised"}), owner_reads_all=True, min_severity="critical",
                       sites=frozenset({"factory-1"}), cois=frozenset({"COI-1"}))
    assert everything.wants("AlertRaised", "COI-1", {"factory-1"}, {"severity": "critical"})
    assert not everything.wants("AlertRaised", "COI-1", {"factory-1"}, ALERT)  # below critical
    assert not everything.wants("AlertRaised", "COI-1", {"hospital-1"}, {"severity": "critical"})  # site filter
    assert not everything.wants("AlertRaised", "COI-9", {"factory-1"}, {"severity": "critical"})  # COI filter
    nobody = Terms(frozenset({"AlertRaised"}))  # an integrator bound to no site reads no case
    assert not nobody.wants("AlertRaised", "COI-1", {"factory-1"}, ALERT)
    staff = frozenset({"UserCreated", "UserContactSet", "TokenIssued"})  # records of no case, naming sites
    for kind in staff:
        assert not Terms(staff, owner_sites=frozenset({"hospital-1"})).wants(kind, None, {"hospital-1"}, {})
        assert Terms(staff, owner_reads_all=True).wants(kind, None, {"hospital-1"}, {})


@pytest.mark.parametrize("address, reason", [
    ("127.0.0.1", "loopback"), ("10.0.0.1", "private"), ("192.168.1.1", "private"), ("172.16.0.1", "private"),
    ("169.254.169.254", "link-local"), ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"),
    ("240.0.0.1", "reserved"), ("::1", "loopback"), ("fe80::1", "link-local"), ("fc00::1", "private"),
    ("::ffff:10.0.0.1", "private"), ("100.64.0.1", "not globally routable"), ("93.184.215.14", None),
    ("2606:4700::1111", None), ("2002:7f00:1::", "6to4 of a loopback address"),
    ("2002:a00:1::1", "6to4 of a private address"), ("2002:a9fe:a9fe::", "6to4 of a link-local address"),
    ("2002:808:808::1", None), ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo of a loopback address"),
])
def test_forbidden_addresses(address, reason):
    assert forbidden_reason(ipaddress.ip_address(address)) == reason


def test_urls_are_checked_and_every_resolved_address_counts():
    assert check_url("https://mes.example/hook?x=1") == ("https", "mes.example", 443, "/hook?x=1")
    for bad in ("ftp://a.example/", "https://", "http://u:p@a.example/", "http://a.example:99999/", "x",
                "https://1.1.1.1/a\nb", "https://mes.example/a\tb", "https://mes.example/a b", "https://més.example/"):
        with pytest.raises(UrlInvalid):
            check_url(bad)
    with pytest.raises(UrlForbidden):
        resolve("http://localhost:8080/hook")
    target = resolve("http://localhost:8080/hook", allow_private=True)
    assert target.address in ("127.0.0.1", "::1") and target.host_header == "localhost:8080"
    public = resolve("https://93.184.215.14/hook")
    assert public.connect_url == "https://93.184.215.14:443/hook" and public.host_header == "93.184.215.14"


def test_backoff_grows_exponentially_within_its_ceiling_with_jitter():
    assert [backoff(n, 1.0, 60.0, rng=lambda: 1.0) for n in (1, 2, 3, 4, 10)] == [1, 2, 4, 8, 60]
    assert backoff(3, 1.0, 60.0, rng=lambda: 0.0) == 2.0  # at least half of the full delay


def test_secrets_are_sealed_to_their_subscription(tmp_path):
    secret = new_secret()
    assert secret.startswith("whsec_")
    box = SecretBox.in_keys_dir(tmp_path)
    sealed = box.seal("sub_a", secret)
    assert secret not in sealed and secret[6:] not in sealed
    assert SecretBox.in_keys_dir(tmp_path).open("sub_a", sealed) == secret  # the same key next start
    with pytest.raises(InvalidTag):
        box.open("sub_b", sealed)
    assert (tmp_path / "webhook-secrets.key").stat().st_mode & 0o777 == 0o600


def test_the_message_id_is_stable_per_subscription_and_event():
    assert message_id("sub_a", "e1") == message_id("sub_a", "e1")
    assert len({message_id("sub_a", "e1"), message_id("sub_b", "e1"), message_id("sub_a", "e2")}) == 3
