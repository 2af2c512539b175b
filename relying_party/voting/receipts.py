"""Receipt codes: random, readable, grouped (e.g. ``K7QM-3XWD-9PRT-HC4N``)."""

from __future__ import annotations

import math
import secrets

#: Letters and digits without the look-alikes 0/O, 1/I/L, 2/Z, 5/S, U/V: 25 symbols.
ALPHABET = "ABCDEFGHJKMNPQRTWXY346789"
GROUPS = 4
GROUP_LENGTH = 4
#: About 74 bits: a receipt cannot be guessed, and two ballots never share one in practice (the column is UNIQUE).
BITS = GROUPS * GROUP_LENGTH * math.log2(len(ALPHABET))


def new_receipt() -> str:
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LENGTH))
    return "-".join(symbols[i : i + GROUP_LENGTH] for i in range(0, len(symbols), GROUP_LENGTH))
