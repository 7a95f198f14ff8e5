"""Naive RFC 9162 reference (§2.1.1, §2.1.3.1, §2.1.4.1), written straight from the RFC's
recursive definitions with hashlib, independent of ``ledger.merkle``. Test use only."""

from __future__ import annotations

import hashlib


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_leaf(entry: bytes) -> bytes:
    return _h(b"\x00" + entry)


def naive_root(entries: list[bytes]) -> bytes:
    """MTH(D[n])."""
    n = len(entries)
    if n == 0:
        return _h(b"")
    if n == 1:
        return naive_leaf(entries[0])
    k = _split(n)
    return _h(b"\x01" + naive_root(entries[:k]) + naive_root(entries[k:]))


def naive_inclusion(entries: list[bytes], m: int) -> list[bytes]:
    """PATH(m, D[n])."""
    n = len(entries)
    assert 0 <= m < n
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return naive_inclusion(entries[:k], m) + [naive_root(entries[k:])]
    return naive_inclusion(entries[k:], m - k) + [naive_root(entries[:k])]


def _subproof(m: int, entries: list[bytes], b: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if b else [naive_root(entries)]
    k = _split(n)
    if m <= k:
        return _subproof(m, entries[:k], b) + [naive_root(entries[k:])]
    return _subproof(m - k, entries[k:], False) + [naive_root(entries[:k])]


def naive_consistency(entries: list[bytes], m: int) -> list[bytes]:
    """PROOF(m, D[n]) for 0 < m <= n."""
    assert 0 < m <= len(entries)
    return _subproof(m, entries, True)
