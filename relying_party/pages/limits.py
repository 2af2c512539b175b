"""How many assistance requests and complaints one client address, or one voter, may file per window.

Anonymous posts of « Formulaire de demande d'assistance » created a request and a mail each, 30 in 0.2 s. Each
accepted request takes one of ``limit`` slots of its address (and of its voter, when signed in) in the portal's
ephemeral store; a slot is taken with ``add`` (atomic: of concurrent requests exactly one gets a given slot) and
freed ``window`` seconds later. No slot free: refused before anything is stored or sent. Keys are keyed hashes:
the store never holds an address or an identifier in clear.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app

from relying_party.store import get_store


def _ref(kind: str, value: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"requests:{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:40]


def take_slot(kind: str, value: str, limit: int, window: int) -> bool:
    """Take one of ``limit`` slots of ``value`` for ``window`` seconds; False when none is free."""
    store = get_store()
    ref = _ref(kind, value)
    return any(store.add(f"requests:{kind}:{ref}:{slot}", "1", window) for slot in range(limit))


def allowed(address: str, voter: str | None) -> bool:
    """Whether one more request may be filed from ``address`` (by ``voter``, if signed in); takes the slots."""
    cfg = current_app.config
    window = int(cfg["REQUESTS_WINDOW"])
    if not take_slot("address", address, int(cfg["REQUESTS_PER_ADDRESS"]), window):
        return False
    return voter is None or take_slot("voter", voter, int(cfg["REQUESTS_PER_VOTER"]), window)
