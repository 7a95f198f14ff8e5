"""``ledger validation-report`` and ``ledger validation-verify``: the signed OQ report and its check."""

from __future__ import annotations

import contextlib
import json
import platform
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ledger.timefmt import format_utc, utc_now

from .common import console, settings
from .validation_pack import (
    build_report,
    marked_tests,
    read_junit,
    read_requirements,
    sign_report,
    traceability_markdown,
    verify_report,
)

PACKAGES = ("coi-ledger", "pytest", "eventsourcing", "cryptography", "fastapi", "psycopg", "sqlalchemy", "reportlab")


def _git(root: Path, *args: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    done = subprocess.run([git, "-C", str(root), *args], capture_output=True, text=True)  # noqa: S603
    return done.stdout.strip() if done.returncode == 0 else None


def _commit(root: Path) -> str:
    head = _git(root, "rev-parse", "HEAD")
    if head is None:
        return "unknown"
    return head + (" (with uncommitted changes)" if _git(root, "status", "--porcelain", "--untracked-files=no")
                   else "")


def _environment() -> dict[str, str]:
    env = {"python": platform.python_version(), "platform": platform.platform(), "host": platform.node()}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            env[name] = metadata.version(name)
    return env


def _signing_key(key: Path | None):
    from ledger import bootstrap
    from ledger.keys.keystore import KeyStoreError, decrypt_pem

    config = settings()
    passphrase = config.key_passphrase.get_secret_value()
    try:
        if key is not None:
            return decrypt_pem(key.read_bytes(), passphrase)
        return bootstrap.key_store(config).active_key(passphrase).private_key
    except (KeyStoreError, OSError) as exc:
        console.print(f"[red]cannot open the signing key:[/red] {exc}")
        raise typer.Exit(2) from None


def _run_suite(root: Path, marker: str, paths: list[str], junit: Path) -> dict[str, object]:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={junit}",
               "-m", marker, *paths]
    shown = " ".join(["pytest", *command[3:]])
    console.print(f"running: {shown}")
    done = subprocess.run(command, cwd=root)  # noqa: S603 - our own interpreter and pytest
    return {"command": shown, "exit_code": done.returncode}


def validation_report(
    paths: Annotated[list[str] | None, typer.Argument(help="test files or directories to run (default: all)")] = None,
    marker: Annotated[str, typer.Option("--marker", "-m", help="pytest marker expression selecting the tests")] = "req",
    from_junit: Annotated[Path | None, typer.Option(
        "--from-junit", exists=True, dir_okay=False,
        help="use this junit XML of an earlier run instead of running the tests")] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="only write the traceability matrix (no run)")] = False,
    out: Annotated[Path, typer.Option("--out", help="directory for the JSON and PDF")] = Path("validation-reports"),
    key: Annotated[Path | None, typer.Option(
        "--key", exists=True, dir_okay=False,
        help="PKCS#8 PEM Ed25519 key to sign with (default: the ledger's sealing key; "
             "an encrypted one opens with LEDGER_KEY_PASSPHRASE)")] = None,
    root: Annotated[Path, typer.Option("--root", help="the project's root (holds docs/ and tests/)")] = Path("."),
    urs: Annotated[Path, typer.Option("--urs", help="the URS, relative to --root")] = Path("docs/validation/URS.md"),
    matrix: Annotated[Path, typer.Option("--matrix", help="where --markdown writes, relative to --root")] = Path(
        "docs/validation/TRACEABILITY.md"),
) -> None:
    """Write the operational-qualification report: each requirement, its tests and their results, signed."""
    root = root.resolve()
    requirements = read_requirements(root / urs)
    try:
        markers = marked_tests(root / "tests", root)
        if markdown:
            (root / matrix).write_text(traceability_markdown(requirements, markers), encoding="utf-8")
            console.print(f"wrote {root / matrix}")
            return
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    signing_key = _signing_key(key)
    started = utc_now()
    with tempfile.TemporaryDirectory() as scratch:
        if from_junit is None:
            junit = Path(scratch) / "junit.xml"
            run = _run_suite(root, marker, paths or [], junit)
        else:
            junit, run = from_junit, {"junit": str(from_junit)}
        results = read_junit(junit)
    report = build_report(requirements, markers, results, generated_at=format_utc(started), commit=_commit(root),
                          environment=_environment(), run=run)
    document = sign_report(report, signing_key)
    from .validation_pdf import report_pdf

    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"OQ-{started.strftime('%Y%m%dT%H%M%SZ')}"
    stem.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    stem.with_suffix(".pdf").write_bytes(report_pdf(document))
    _show(report)
    print(stem.with_suffix(".json"))
    print(stem.with_suffix(".pdf"))
    raise typer.Exit(0 if report["result"] == "pass" else 1)


def _show(report: dict) -> None:
    table = Table("requirement", "risk", "verdict", "tests")
    style = {"verified": "green", "failed": "red", "not verified": "yellow"}
    for req in report["requirements"]:
        table.add_row(req["id"], req["risk"], f"[{style[req['verdict']]}]{req['verdict']}[/]",
                      ", ".join(f"{t['test'].rsplit('::', 1)[-1]} {t['outcome']}" for t in req["tests"]))
    Console(stderr=True).print(table)
    console.print(f"result: {report['result']} ({report['summary']})")


def validation_verify(
    report: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="the report JSON")],
    keys: Annotated[Path | None, typer.Option(
        "--keys", exists=True, dir_okay=False,
        help="trust only keys in this key ring (the published keyring.json)")] = None,
) -> None:
    """Check an OQ report's signature: exit 0 valid, 1 not."""
    from ledger.keys.sealing import KeyRing

    ring = KeyRing.from_json(json.loads(keys.read_text())) if keys else None
    reason = verify_report(json.loads(report.read_text(encoding="utf-8")), ring)
    if reason:
        print(f"NOT valid: {reason}")
        raise typer.Exit(1)
    print("valid" + ("" if ring else " (against the key in the file: give --keys to check who signed)"))
