"""The shape of a vote code: alphabet, length, grouping, and the normalisation of what a voter types.

The alphabet is the 31 characters ``23456789ABCDEFGHJKMNPQRSTUVWXYZ``: digits and capital letters without the
pairs that paper and fonts confuse (0/O, 1/I/L), without accents or symbols, so a code reads aloud and types on
any keyboard (the 2022 portal's codes had symbols and accents). No 32nd character exists under
those rules, so 12 characters would give only 12·log2(31) ≈ 59.5 bits; a code has **13 characters, 13·log2(31) ≈
64.4 bits**, printed in groups of 4, 4 and 5 (``K7QM-3XWD-9PRTA``).

Normalisation accepts what a careful voter may type: any case, spaces, dashes (including typographic dashes),
dots and underscores between groups. It maps no look-alike: since the alphabet has neither 0 nor O, neither 1, I
nor L, a voter who types one of them misread the notice, and telling them so (a format message, which reveals
nothing about their code) helps more than guessing which character they meant.
"""

from __future__ import annotations

import math
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 13
#: Sizes of the printed groups, joined by ``SEPARATOR``.
GROUPS = (4, 4, 5)
SEPARATOR = "-"
#: Entropy of one code, in bits (≈ 64.4).
ENTROPY_BITS = LENGTH * math.log2(len(ALPHABET))
#: Characters voters may put between groups; removed before checking.
_IGNORED = " \t\u00a0\u202f-\u2010\u2011\u2012\u2013\u2014\u2212._"
_SPACE = len(ALPHABET) ** LENGTH
_INDEX = {ch: i for i, ch in enumerate(ALPHABET)}

assert sum(GROUPS) == LENGTH
assert ENTROPY_BITS >= 60


def new_code() -> str:
    """A fresh random code, canonical form (13 characters, no separator).

    One ``secrets.randbelow`` over the whole code space then base-31 digits: uniform, and one system call per code
    instead of thirteen (100,000 notices take a fraction of a second).
    """
    value = secrets.randbelow(_SPACE)
    chars = []
    for _ in range(LENGTH):
        value, digit = divmod(value, len(ALPHABET))
        chars.append(ALPHABET[digit])
    return "".join(chars)


def grouped(code: str) -> str:
    """The printed form: ``K7QM-3XWD-9PRTA``."""
    parts, start = [], 0
    for size in GROUPS:
        parts.append(code[start : start + size])
        start += size
    return SEPARATOR.join(parts)


def normalise(entry: str) -> str | None:
    """The canonical code a voter meant, or None if ``entry`` cannot be a vote code (wrong length or a character
    outside the alphabet). Case, spaces and dashes do not matter."""
    if len(entry) > 64:
        return None
    cleaned = "".join(ch for ch in entry if ch not in _IGNORED).upper()
    if len(cleaned) != LENGTH or any(ch not in _INDEX for ch in cleaned):
        return None
    return cleaned
