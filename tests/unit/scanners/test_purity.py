"""scanners/ is pure: no imports from ledger/api/projections, no file or network I/O."""

import ast
from pathlib import Path

import scanners

PACKAGE = Path(scanners.__file__).parent
FORBIDDEN_PACKAGES = {"ledger", "api", "projections", "socket", "requests", "httpx", "urllib3"}
FORBIDDEN_CALLS = {"open", "exec", "eval", "__import__"}


def _modules():
    return sorted(PACKAGE.glob("*.py"))


def test_no_forbidden_imports():
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN_PACKAGES, (path.name, name)


def test_no_file_io_calls():
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in FORBIDDEN_CALLS, (path.name, node.func.id)


def test_modules_stay_small():
    for path in _modules():
        assert len(path.read_text().splitlines()) <= 300, path.name
