"""Reference numbers given to voters for what they send (complaints, assistance requests)."""

from __future__ import annotations

import secrets

#: The receipt alphabet: no look-alike characters, read over the phone without ambiguity.
ALPHABET = "ABCDEFGHJKMNPQRTWXY346789"


def new_reference(prefix: str) -> str:
    """e.g. ``REC-7KQM-3XWD``: 8 random symbols (about 37 bits), unique by a database constraint."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{prefix}-{symbols[:4]}-{symbols[4:]}"
