"""The validation pack: requirements, their tests, a signed operational-qualification report.

Requirements are the rows of ``docs/validation/URS.md`` whose first cell is a ``URS-...`` id. A test
verifies a requirement when it carries ``@pytest.mark.req("URS-...", ...)``; the markers are read
from the test sources (``ast``), so the traceability matrix needs no test run, and the results
come from a pytest junit XML file.

Signature contract (the report JSON)::

    {"report": {...}, "signature": {"algorithm": "Ed25519", "key_id", "public_key", "signature"}}

* ``signature = base64(Ed25519_sign(private_key, JCS(report)))``: RFC 8785 canonical bytes of the
  ``report`` member, whatever whitespace the file has.
* ``key_id`` = first 16 hex of SHA-256 of the raw public key (as for sealing keys); ``public_key``
  is that raw key in base64.
* :func:`verify_report` with a key ring (the ledger's published ``keyring.json``) trusts only a
  key in that ring; without one it checks against the embedded key, which proves the file is
  unaltered since signing but not who signed it.
"""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET  # noqa: S405 - parses the junit file our own pytest run wrote
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.envelope import canonical
from ledger.keys.sealing import KeyRing, b64, key_id_of, raw_public_key, unb64, verify_ed25519

URS_ID = re.compile(r"URS-[A-Z0-9]+(?:-[A-Za-z0-9]+)+")
_ROW = re.compile(r"^\|\s*(URS-[^|\s]+)\s*\|(.*)\|\s*$")


@dataclass(frozen=True)
class Requirement:
    id: str
    text: str
    clause: str
    risk: str


def read_requirements(urs: Path) -> list[Requirement]:
    """The requirements of a URS file, in its order; a repeated id is an error."""
    found: dict[str, Requirement] = {}
    for line in urs.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if not match:
            continue
        cells = [c.strip() for c in match.group(2).split("|")]
        if len(cells) != 3 or not URS_ID.fullmatch(match.group(1)):
            raise ValueError(f"{urs}: malformed requirement row: {line}")
        if match.group(1) in found:
            raise ValueError(f"{urs}: requirement {match.group(1)} is defined twice")
        found[match.group(1)] = Requirement(match.group(1), *cells)
    return list(found.values())


def _req_ids(decorators: Iterable[ast.expr]) -> list[str]:
    ids: list[str] = []
    for node in decorators:
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "req"
                and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "mark"):
            ids += [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    return ids


def marked_tests(tests_dir: Path, root: Path) -> dict[str, list[str]]:
    """Test node id (``tests/x/test_y.py::[Class::]test_z``) -> the requirement ids it is marked with.

    Marks on a class apply to its test methods, as in pytest.
    """
    marked: dict[str, list[str]] = {}
    for path in sorted(tests_dir.rglob("test_*.py")):
        module = ast.parse(path.read_text(encoding="utf-8"), str(path))
        prefix = path.relative_to(root).as_posix()
        for node in module.body:
            scopes = [(node, [])]
            if isinstance(node, ast.ClassDef):
                scopes = [(item, [node.name]) for item in node.body]
                class_ids = _req_ids(node.decorator_list)
            else:
                class_ids = []
            for item, classes in scopes:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("test"):
                    ids = class_ids + _req_ids(item.decorator_list)
                    if ids:
                        marked["::".join([prefix, *classes, item.name])] = ids
    return marked


def _junit_key(node_id: str) -> str:
    """The key a junit testcase has for this node id: dotted module and classes, then the function."""
    path, *rest = node_id.split("::")
    return ".".join([path.removesuffix(".py").replace("/", "."), *rest[:-1]]) + "::" + rest[-1]


def read_junit(junit: Path) -> dict[str, list[str]]:
    """junit key -> the outcome of each case run (``passed``, ``failed``, ``error``, ``skipped``)."""
    outcomes: dict[str, list[str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):  # noqa: S314 - see the import
        name = case.get("name", "").split("[", 1)[0]
        tags = {child.tag for child in case}
        outcome = ("failed" if "failure" in tags else "error" if "error" in tags
                   else "skipped" if "skipped" in tags else "passed")
        outcomes.setdefault(f"{case.get('classname', '')}::{name}", []).append(outcome)
    return outcomes


def _summary(outcomes: list[str]) -> str:
    if not outcomes:
        return "not run"
    if {"failed", "error"} & set(outcomes):
        return "failed"
    return "passed" if "passed" in outcomes else "skipped"


def traceability(requirements: list[Requirement], markers: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Requirement id -> its tests' node ids; an id no requirement has raises ValueError."""
    known = {r.id for r in requirements}
    unknown = sorted({i for ids in markers.values() for i in ids} - known)
    if unknown:
        raise ValueError(f"tests name requirements the URS does not have: {', '.join(unknown)}")
    return {r.id: sorted(t for t, ids in markers.items() if r.id in ids) for r in requirements}


def build_report(requirements: list[Requirement], markers: Mapping[str, list[str]],
                 results: Mapping[str, list[str]], **context: Any) -> dict[str, Any]:
    """The OQ report: each requirement with its tests and their outcomes, and a verdict.

    A requirement is ``verified`` when at least one of its tests passed and none failed, ``failed``
    when one failed, otherwise ``not verified`` (no test ran, or all were skipped).
    """
    rows = []
    for req in requirements:
        tests = [{"test": t, "outcome": _summary(results.get(_junit_key(t), [])),
                  "cases": len(results.get(_junit_key(t), []))} for t in traceability(requirements, markers)[req.id]]
        outcomes = {t["outcome"] for t in tests}
        verdict = "failed" if "failed" in outcomes else "verified" if "passed" in outcomes else "not verified"
        rows.append({"id": req.id, "text": req.text, "clause": req.clause, "risk": req.risk,
                     "verdict": verdict, "tests": tests})
    counts = {v: sum(r["verdict"] == v for r in rows) for v in ("verified", "failed", "not verified")}
    return {"kind": "operational qualification", **context, "summary": counts,
            "result": "pass" if counts["verified"] == len(rows) else "fail", "requirements": rows}


def sign_report(report: dict[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """The signed document (see the module's contract)."""
    public = raw_public_key(private_key.public_key())
    return {"report": report, "signature": {
        "algorithm": "Ed25519", "key_id": key_id_of(public), "public_key": b64(public),
        "signature": b64(private_key.sign(canonical(report)))}}


def verify_report(document: Mapping[str, Any], ring: KeyRing | None = None) -> str | None:
    """None when the signature verifies (against ``ring`` when given), else the reason."""
    try:
        sig, report = document["signature"], document["report"]
        key_id, signature = sig["key_id"], sig["signature"]
        public = unb64(sig["public_key"])
    except (KeyError, TypeError, ValueError) as exc:
        return f"not a signed report: {exc}"
    if sig.get("algorithm") != "Ed25519" or key_id_of(public) != key_id:
        return "the signature's key_id does not match its public key"
    if ring is not None:
        if key_id not in ring.keys:
            return f"unknown key: {key_id} is not in the key ring"
        public = unb64(ring.keys[key_id].public_key)
    if not verify_ed25519(public, canonical(report), signature):
        return f"bad signature: the report does not verify with key {key_id}"
    return None


def traceability_markdown(requirements: list[Requirement], markers: Mapping[str, list[str]]) -> str:
    """docs/validation/TRACEABILITY.md: requirement -> tests, generated from the markers."""
    matrix = traceability(requirements, markers)
    lines = ["# Traceability matrix", "",
             "Generated by `ledger validation-report --markdown` from the `@pytest.mark.req(...)` markers of",
             "the tests and [URS.md](URS.md); do not edit by hand (a test checks it is current). Each test's",
             "result is in the operational-qualification report `ledger validation-report` writes.", "",
             "| requirement | clause | risk | tests |", "|---|---|---|---|"]
    for req in requirements:
        tests = "<br>".join(f"`{t}`" for t in matrix[req.id]) or "**none**"
        lines.append(f"| {req.id} | {req.clause} | {req.risk} | {tests} |")
    return "\n".join(lines) + "\n"
