"""Keyed hashes (HMAC-SHA256) for values that are compared but never stored in clear: NUMEN, NIR, vote codes,
one-time tokens and pseudonymous references in the audit log. The key lives outside the database."""

from __future__ import annotations

import hashlib
import hmac


class KeyedHasher:
    def __init__(self, key: str | bytes) -> None:
        self._key = key.encode() if isinstance(key, str) else key

    def digest(self, purpose: str, value: str) -> bytes:
        """HMAC-SHA256 of ``value`` in the domain ``purpose`` (so equal values in two domains differ)."""
        return hmac.new(self._key, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()

    def hexdigest(self, purpose: str, value: str) -> str:
        return self.digest(purpose, value).hex()

    def matches(self, purpose: str, value: str, stored: bytes) -> bool:
        """Constant-time comparison of ``value`` with a stored digest."""
        return hmac.compare_digest(self.digest(purpose, value), stored)
