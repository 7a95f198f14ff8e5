"""Check digit and check character arithmetic, in one place.

* GS1 mod 10 (GTIN, GLN, SSCC, GSRN...): weights 3,1,3,1... from the right of the payload.
* ISO/IEC 7064 mod 37-2 (ISBT 128 DIN keyboard check character, the ledger's own ids):
  alphabet ``0-9A-Z*``, delegated to ``stdnum.iso7064.mod_37_2``.

All functions are pure; the ``is_valid_*`` ones never raise, whatever the input.
"""

from __future__ import annotations

from stdnum.iso7064 import mod_37_2

MOD37_2_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"


def gs1_mod10_check_digit(payload: str) -> str:
    """The GS1 mod 10 check digit for ``payload`` (digits without their check digit).

    Raises ValueError if ``payload`` is empty or not all ASCII digits.
    """
    if not payload or not (payload.isascii() and payload.isdigit()):
        raise ValueError("GS1 mod 10 needs a non-empty string of digits")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return str((10 - total % 10) % 10)


def is_valid_gs1_mod10(number: str) -> bool:
    """True if the last digit of ``number`` is the GS1 mod 10 check digit of the rest."""
    if len(number) < 2 or not (number.isascii() and number.isdigit()):
        return False
    return gs1_mod10_check_digit(number[:-1]) == number[-1]


def mod37_2_check_char(text: str) -> str:
    """The ISO 7064 mod 37-2 check character over ``text`` (characters from ``0-9A-Z*``).

    Raises ValueError if ``text`` is empty or holds a character outside the alphabet.
    """
    if not text or any(c not in MOD37_2_ALPHABET for c in text):
        raise ValueError("ISO 7064 mod 37-2 needs characters from 0-9, A-Z and *")
    return mod_37_2.calc_check_digit(text)


def mod37_2_check_value(text: str) -> int:
    """The numeric value (0..36) of the mod 37-2 check character over ``text``."""
    return MOD37_2_ALPHABET.index(mod37_2_check_char(text))


def is_valid_mod37_2(text: str, check_char: str) -> bool:
    """True if ``check_char`` is the ISO 7064 mod 37-2 check character of ``text``."""
    try:
        return mod37_2_check_char(text) == check_char
    except ValueError:
        return False


# GS1 General Specifications "Check character calculation (for alphanumeric keys)" (GMN, AI 8013):
# data characters valued by their place in CSET 82, weighted by primes from the right, mod 1021,
# split into two CSET 32 characters. Neither biip nor python-stdnum has it.
_CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_CSET32 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101,
           103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191, 193, 197, 199,
           211, 223, 227, 229, 233, 239, 241, 251, 257, 263, 269, 271, 277, 281, 283, 293, 307, 311, 313, 317,
           331, 337, 347, 349, 353, 359, 367, 373, 379, 383, 389, 397, 401, 409, 419, 421, 431, 433, 439, 443,
           449, 457, 461, 463, 467, 479, 487, 491, 499, 503, 509)


def is_valid_gs1_check_pair(text: str) -> bool:
    """True if the last two characters of ``text`` are the GS1 alphanumeric check character pair."""
    data = text[:-2]
    if len(text) < 2 or len(data) > len(_PRIMES) or any(c not in _CSET82 for c in data):
        return False
    total = sum(_CSET82.index(c) * _PRIMES[len(data) - 1 - i] for i, c in enumerate(data)) % 1021
    return text[-2:] == _CSET32[total >> 5] + _CSET32[total & 31]
