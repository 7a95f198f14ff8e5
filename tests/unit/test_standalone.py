"""The repository stands alone: no tracked file points outside it, and the data the service
needs at run time (GS1's EPCIS schema, the portal's templates) ships inside the package."""

from __future__ import annotations

import fnmatch
import subprocess
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from api.epcis import validation

ROOT = Path(__file__).resolve().parents[2]
# Spelled in pieces so that this file does not match itself.
OUTSIDE = ("../" + "shared", "/work/" + "shared")


def tracked_files() -> list[str]:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [name for name in out.stdout.decode().split("\0") if name]


def test_no_tracked_file_refers_outside_the_repository():
    files = tracked_files()
    assert len(files) > 100
    offenders = []
    for name in files:
        path = ROOT / name
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        offenders += [f"{name}: {needle}" for needle in OUTSIDE if needle in text]
    assert offenders == []


def test_default_schema_is_package_data(monkeypatch):
    monkeypatch.delenv(validation.SCHEMA_ENV, raising=False)
    packaged = resources.files("api.epcis") / "schema" / "EPCIS-JSON-Schema.json"
    assert packaged.is_file()
    assert Path(str(packaged)) == validation.DEFAULT_SCHEMA
    assert validation.DEFAULT_SCHEMA.is_relative_to(Path(validation.__file__).resolve().parent)
    validator = validation.schema_validator()
    assert validator.schema["$id"].endswith("/EPCIS-JSON-Schema.json")
    assert (validation.DEFAULT_SCHEMA.parent / "SOURCE.md").is_file()


def test_package_data_is_declared_for_a_non_editable_install():
    """A wheel (and so the container image) carries only the data files pyproject declares."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = config["tool"]["setuptools"]["package-data"]
    needed = {"api.epcis": ["schema/EPCIS-JSON-Schema.json", "schema/SOURCE.md", "schema/LICENSE-GS1"]}
    portal = ROOT / "api" / "portal"
    needed["api.portal"] = [str(p.relative_to(portal)) for p in portal.rglob("*")
                            if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts]
    assert len(needed["api.portal"]) > 5
    for package, names in needed.items():
        patterns = declared.get(package, [])
        missing = [n for n in names if not any(fnmatch.fnmatch(n, p) for p in patterns)]
        assert missing == [], f"{package}: not declared as package data: {missing}"
