#!/usr/bin/env python3
"""Verify a whole-ledger archive offline (``ledger export archive``), trusting nothing but it and ``cryptography``.

Usage: ``python tools/verify_archive.py ARCHIVE(dir or .zip) [--keys KEYRING.json]`` -> exit 0 and
"intact", or exit 1 and one line per finding (2: the archive cannot be read).

Checks: every file the manifest lists is present with its SHA-256, and no dossier is unlisted;
every checkpoint note in ``checkpoints.txt`` is signed by a key of the archive's key ring (which
must match ``--keys``, the operator's published ring, when given); RFC 9162 consistency proofs
link each checkpoint to the next (one append-only history); the manifest's checkpoint is the
newest; every dossier verifies with ``verify_dossier.py`` (same directory) against the archive's
key ring, and its checkpoint is one of the signed ones. Out of reach offline: that no case was
left out of the archive altogether (compare the case list with the operator's).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import verify_dossier  # noqa: E402 - the sibling tool: one implementation of the dossier rules

FORMAT = ("coi-ledger-archive", 1)


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def consistent(size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes) -> bool:
    """RFC 9162 section 2.1.4.2: does ``proof`` show the tree of ``size1`` is a prefix of ``size2``?"""
    if size1 == size2:
        return not proof and root1 == root2
    if not 0 < size1 < size2 or not proof:
        return False
    if size1 & (size1 - 1) == 0:  # a power of two: the first tree is a node of the second
        proof = [root1, *proof]
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == root1 and sr == root2


class Archive:
    """The archive's files, from a directory or a zip file."""

    def __init__(self, path: str) -> None:
        root = Path(path)
        if root.is_dir():
            self.files = {str(p.relative_to(root)).replace("\\", "/"): p.read_bytes()
                          for p in root.rglob("*") if p.is_file()}
        else:
            with zipfile.ZipFile(root) as z:
                self.files = {name: z.read(name) for name in z.namelist() if not name.endswith("/")}

    def json(self, name: str):
        return json.loads(self.files[name].decode("utf-8"))


def _notes(text: str) -> list[str]:
    notes, block = [], []
    for line in text.split("\n"):
        if line == "----":
            notes.append("\n".join(block) + "\n")
            block = []
        elif line or block:
            block.append(line)
    if any(line.strip() for line in block):
        raise ValueError("the last checkpoint note is not terminated by ----")
    return notes


def verify(archive: Archive, trusted: list | None = None) -> list[str]:
    out: list[str] = []
    manifest = archive.json("manifest.json")
    if (manifest.get("format"), manifest.get("version")) != FORMAT:
        return ["not a coi-ledger archive"]
    ring = archive.json(manifest["keys"])["keys"]
    if trusted is not None and any(k not in trusted for k in ring):
        out.append("bad key ring: a key differs from the trusted key ring")
    publics = [verify_dossier._b64(k["public_key"], 32) for k in ring]
    origin = manifest["origin"]
    signed: dict[int, bytes] = {}
    for number, note in enumerate(_notes(archive.files[manifest["checkpoints"]].decode("utf-8")), start=1):
        try:
            lines = verify_dossier.open_note(note, origin, publics).split("\n")
            signed[int(lines[1])] = verify_dossier._b64(lines[2], 32)
        except (ValueError, IndexError) as exc:
            out.append(f"checkpoint note {number}: bad checkpoint: {exc}")
    sizes = sorted(signed)
    proofs = {(p["first"], p["second"]): p["proof"] for p in manifest.get("consistency", [])}
    for a, b in zip(sizes, sizes[1:], strict=False):
        try:
            ok = consistent(a, b, [verify_dossier._b64(h, 32) for h in proofs[(a, b)]], signed[a], signed[b])
        except (KeyError, ValueError):
            ok = False
        if not ok:
            out.append(f"checkpoints {a} -> {b}: no valid consistency proof (not one append-only history)")
    newest = manifest.get("checkpoint")
    if sizes and (newest is None or newest.split("\n")[1] != str(sizes[-1])):
        out.append("manifest: its checkpoint is not the newest signed one")
    listed = set()
    for entry in manifest["dossiers"]:
        name, listed = entry["file"], listed | {entry["file"]}
        data = archive.files.get(name)
        if data is None:
            out.append(f"{name}: missing")
            continue
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            out.append(f"{name}: changed (SHA-256 differs from the manifest)")
        try:
            bundle = json.loads(data.decode("utf-8"))
        except ValueError as exc:
            out.append(f"{name}: not JSON: {exc}")
            continue
        out += [f"{name}: {line}" for line in verify_dossier.verify(bundle, ring)]
        cp = bundle.get("checkpoint") or {}
        if bundle.get("coi") != entry["coi"]:
            out.append(f"{name}: holds case {bundle.get('coi')!r}, the manifest says {entry['coi']!r}")
        if signed.get(cp.get("tree_size")) != _root(cp):
            out.append(f"{name}: its checkpoint is not one of the archive's signed checkpoints")
    for name in sorted(archive.files):
        if name.startswith("dossiers/") and name not in listed:
            out.append(f"{name}: not listed in the manifest")
    return out


def _root(cp: dict) -> bytes | None:
    try:
        return base64.b64decode(cp["root"], validate=True)
    except (KeyError, ValueError, TypeError):
        return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="verify_archive.py",
        description="Verify a COI ledger archive offline (standard library and cryptography only).",
        epilog="Exit 0: intact. Exit 1: findings, one line each. Exit 2: the archive cannot be read.")
    parser.add_argument("archive", help="the archive from `ledger export archive` (directory or .zip)")
    parser.add_argument("--keys", metavar="KEYRING.json",
                        help="the operator's published key ring (GET /v1/ledger/keys); the archive's must match")
    args = parser.parse_args(argv)
    try:
        trusted = None
        if args.keys is not None:
            with open(args.keys, encoding="utf-8") as f:
                trusted = json.load(f)["keys"]
        archive = Archive(args.archive)
        findings = verify(archive, trusted)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        print(f"verify_archive.py: cannot read the archive: {exc!r}", file=sys.stderr)
        return 2
    for line in findings:
        print(line)
    if findings:
        print(f"NOT intact: {len(findings)} findings")
        return 1
    manifest = archive.json("manifest.json")
    print(f"intact: {len(manifest['dossiers'])} case dossiers, {len(manifest['consistency']) + 1} signed "
          f"checkpoints in one append-only history, keys "
          + ", ".join(k["key_id"] for k in archive.json(manifest["keys"])["keys"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
