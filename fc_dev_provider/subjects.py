"""Pairwise subject identifiers: one ``sub`` per citizen and sector, unlinkable across sectors.

``sha256(sector, citizen id, salt)`` in hexadecimal (64 characters), with separators so that no two different
triples hash the same input. The same citizen gets the same ``sub`` at every login for clients of one sector.
"""

from __future__ import annotations

import hashlib


def pairwise_sub(sector: str, citizen_id: str, salt: str) -> str:
    material = "\x1f".join((sector, citizen_id, salt)).encode()
    return hashlib.sha256(material).hexdigest()
