"""ISBT 128 lexical layer: data identifiers, lengths and character sets (ICCBBA ST-001 v6.2.2).

:data:`STRUCTURES` holds every ICCBBA-defined data structure of ST-001 Table 2 [RT003] with
the element layout of its section 2.4 table (count, allowed characters). :func:`split` cuts a
string of concatenated structures (or a compound message) into ``(number, content, start)``,
refusing unknown or nationally defined identifiers, truncated structures (``ISBT_TRUNCATED``)
and characters outside an element's set (``BAD_FORMAT`` at the character's offset).
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from scanners.model import ScanError

# character sets of ST-001 2.4 element tables
N = string.digits
UPPER = string.ascii_uppercase
AN = UPPER + N  # {A-Z; 0-9}
ANL = UPPER + string.ascii_lowercase + N  # {A-Z; a-z; 0-9}
LOWER_N = string.ascii_lowercase + N  # {a-z; 0-9}
FIN_FIRST = UPPER.replace("O", "") + N[1:]  # {A-N; P-Z; 1-9}
FIN_NEXT = UPPER.replace("O", "") + N  # {A-N; P-Z; 0-9}
FLAG = N + "ABCDEFGH" + "JKLMN" + "P" + "RSTUVWXY"  # {0-9}, {A-H; J-N; P; R-Y}
_FIN = ((1, FIN_FIRST), (2, FIN_NEXT), (2, N))

Layout = tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Structure:
    """One ST-001 data structure: number, element layout (count, allowed characters)."""

    number: str
    layout: Layout
    retired: bool = False

    @property
    def length(self) -> int:
        return sum(count for count, _ in self.layout)


def _s(number: str, *layout: tuple[int, str], retired: bool = False) -> Structure:
    return Structure(number, tuple(layout), retired)


# data identifier (2 or 3 characters) -> structure; 001 (``=`` + α) is matched apart.
STRUCTURES: dict[str, Structure] = {
    "=%": _s("002", (2, ANL), (1, AN), (1, AN)),
    "=<": _s("003", (1, UPPER), (4, AN), (1, ANL), (1, AN), (1, LOWER_N)),
    "=>": _s("004", (6, N)),
    "&>": _s("005", (10, N)),
    "=*": _s("006", (6, N)),
    "&*": _s("007", (10, N)),
    "=}": _s("008", (6, N)),
    "&}": _s("009", (10, N)),
    "&(": _s("010", (5, AN)),
    "={": _s("011", (18, N), retired=True),
    "=\\": _s("012", (18, N)),
    "&\\": _s("013", (18, N)),
    "&{": _s("014", (18, N)),
    "=[": _s("015", (18, N), retired=True),
    '="': _s("016", (18, N), retired=True),
    "=)": _s("017", (1, ANL), (2, AN), (7, ANL)),
    "&)": _s("018", (10, ANL)),
    "=;": _s("019", *_FIN, (16, N)),
    "='": _s("020", *_FIN, (6, AN)),
    "=-": _s("021", (2, AN), (8, ANL)),
    "&-": _s("022", (10, ANL)),
    "=+": _s("023", (5, N)),
    "=#": _s("024", (10, N)),
    "&#": _s("025", (4, N)),  # + ll characters {A-Z; a-z; 0-9}
    "=]": _s("026", (6, N)),
    '&"': _s("027", (18, N)),
    "=$": _s("028", *_FIN, (2, N), (5, N), (2, N), (2, N)),
    "&$": _s("029", (2, N)),  # + nn segments of 14 digits
    "&%": _s("030", (3, N)),  # + nnn segments of 10 digits
    "=(": _s("031", (16, N)),
    "=,": _s("032", (6, AN)),
    "&+": _s("033", (5, FIN_NEXT), (6, AN)),
    "=/": _s("034", (5, FIN_NEXT), (6, AN), (5, AN)),
    "&,1": _s("035", (18, AN)),
    "&,2": _s("036", (18, AN)),
    "&,3": _s("037", (1, N[1:]), (3, N), (15, AN), retired=True),
    "&,4": _s("038", (40, ANL)),
    "&:": _s("039", (1, N[1:]), (3, N), (13, AN), (2, N)),
    "&/": _s("040", (2, "CH"), *_FIN, (2, N), (6, AN)),
}
DIN_STRUCTURE = _s("001", *_FIN, (2, N), (6, N), (2, FLAG))
NATIONAL = set("abcdefghijklmnopqrstuvwxyz;!")


class Bad(Exception):
    def __init__(self, code: str, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.error = ScanError(code=code, message=message, position=position)


def split(text: str) -> list[tuple[str, str, int]]:
    """Split concatenated structures into (number, content, content start offset)."""
    out: list[tuple[str, str, int]] = []
    pos = 0
    compound = text.startswith("=+")
    while pos < len(text):
        ident = text[pos : pos + 2]
        if ident[:1] == "=" and ident[1:2] in FIN_FIRST and ident[1:2] != "":
            spec, start = DIN_STRUCTURE, pos + 1
        else:
            if ident == "&,":
                ident = text[pos : pos + 3]
            spec = STRUCTURES.get(ident)  # type: ignore[assignment]
            if spec is None:
                if ident[:1] == "&" and ident[1:2] in NATIONAL and ident[1:2]:
                    where = "in a compound message (ST-001 2.4.23)" if compound else "(no standard length)"
                    raise Bad("BAD_FORMAT", f"nationally defined ISBT 128 structure {ident!r} is not read {where}", pos)
                raise Bad("BAD_FORMAT", f"unknown ISBT 128 data identifier {ident!r}", pos)
            start = pos + len(ident)
        length = _length(spec, text, start, pos)
        content = text[start : start + length]
        if len(content) != length:
            what = "DIN without its two flag characters" if spec.number == "001" and len(content) == 13 else "data"
            raise Bad(
                "ISBT_TRUNCATED",
                f"ISBT 128 structure {spec.number} is truncated: {len(content)} of {length} characters ({what})",
                pos,
            )
        _check_characters(spec, content, start)
        out.append((spec.number, content, start))
        pos = start + length
    return out


def _length(spec: Structure, text: str, start: int, pos: int) -> int:
    """The content length; 025, 029 and 030 carry a count field that sets it."""
    if spec.number not in ("025", "029", "030"):
        return spec.length
    field = {"025": (2, 4), "029": (0, 2), "030": (0, 3)}[spec.number]
    count = text[start + field[0] : start + field[1]]
    if len(count) != field[1] - field[0] or not (count.isascii() and count.isdigit()):
        raise Bad("ISBT_TRUNCATED" if len(count) < 2 else "BAD_FORMAT",
                   f"ISBT 128 structure {spec.number} has no valid length field", pos)
    return field[1] + int(count) * {"025": 1, "029": 14, "030": 10}[spec.number]


def _check_characters(spec: Structure, content: str, start: int) -> None:
    """Every character must be in its element's set (ST-001 2.4 element tables)."""
    layout = list(spec.layout)
    if spec.number == "025":
        layout.append((len(content) - 4, ANL))
    elif spec.number in ("029", "030"):
        layout.append((len(content) - spec.length, N))
    offset = 0
    for count, allowed in layout:
        for i, char in enumerate(content[offset : offset + count]):
            if char not in allowed:
                raise Bad(
                    "BAD_FORMAT",
                    f"ISBT 128 structure {spec.number}: character {char!r} is not allowed at {start + offset + i}",
                    start + offset + i,
                )
        offset += count
