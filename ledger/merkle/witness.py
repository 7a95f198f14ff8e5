"""Witness files: checkpoints kept outside the operator's reach.

Format: each signed checkpoint note exactly as stored (C2SP signed note: body, blank line,
signature lines starting with an em dash), followed by a line ``----``; blank lines between
blocks are ignored. A note's signature lines all start with "— ", so ``----`` never occurs
inside one and the file splits without ambiguity.
"""

from __future__ import annotations

from collections.abc import Iterable

TERMINATOR = "----"
SIG_PREFIX = "\u2014 "


class WitnessError(ValueError):
    """A witness file is not a sequence of ``----``-terminated signed notes."""


def format_witness(notes: Iterable[str]) -> str:
    """Concatenate signed notes, each followed by a ``----`` line (see the module docstring)."""
    notes = list(notes)
    if any(not note.endswith("\n") or "\n\n" not in note for note in notes):
        raise WitnessError("not a signed note")
    return "".join(note + TERMINATOR + "\n" for note in notes)


def parse_witness(text: str) -> list[str]:
    """Split a witness file into its signed notes (not yet verified)."""
    notes, block, state = [], [], "between"
    for number, line in enumerate(text.split("\n"), start=1):
        if state == "between":
            if line.strip():
                block, state = [line], "body"
        elif state == "body":
            if line.startswith(SIG_PREFIX):
                raise WitnessError(f"line {number}: a signature line needs a blank line before it")
            block.append(line)
            state = "sigs" if line == "" else "body"
        elif line.startswith(SIG_PREFIX):
            block.append(line)
        elif line == TERMINATOR and block[-1] != "":
            notes.append("\n".join(block) + "\n")
            state = "between"
        else:
            raise WitnessError(f"line {number}: expected a signature line or {TERMINATOR!r}")
    if state != "between":
        raise WitnessError(f"the last note is not terminated by {TERMINATOR!r}")
    return notes
