#!/usr/bin/env python3
"""Count the production files in which each event type's name is a string literal (issue 17's
measure: at most two). ``python tools/event_literals.py [-v]`` prints the total, the types over
two files, and the files by count (``-v``: each type's files too)."""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger.domain.catalogue import DOMAIN_EVENTS  # noqa: E402

DIRS = ("ledger", "api", "projections", "ledger_cli", "scanners", "tools")


def literal_files() -> dict[str, list[str]]:
    texts = {str(p.relative_to(ROOT)): p.read_text() for d in DIRS for p in sorted((ROOT / d).rglob("*.py"))}
    return {name: [f for f, text in texts.items() if re.search(rf"""["']{name}["']""", text)]
            for name in DOMAIN_EVENTS}


def main() -> None:
    found = literal_files()
    over = {name: len(files) for name, files in found.items() if len(files) > 2}
    print(f"file hits: {sum(map(len, found.values()))}; types in more than two files: {len(over)}; "
          f"most files for one type: {max(map(len, found.values()))}")
    for file, count in Counter(f for files in found.values() for f in files).most_common():
        print(f"{count:4d} {file}")
    if "-v" in sys.argv:
        for name, files in found.items():
            print(f"{name} {len(files)}: {', '.join(files)}")


if __name__ == "__main__":
    main()
