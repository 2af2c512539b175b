"""The ephemeral store: short-lived state shared by every web process.

CAPTCHA answers, sign-in transactions, sessions, rate-limit counters and replay caches live here. Two
implementations satisfy this contract (see ``tests/idp/store/test_store_contract.py``): Redis in production and a
table of the SQL database for the embedded default. Values are strings; callers serialise what they store.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class EphemeralStore(Protocol):
    def set(self, key: str, value: str, ttl: int) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, replacing any previous value."""
        raise NotImplementedError

    def add(self, key: str, value: str, ttl: int) -> bool:
        """Store ``value`` only if ``key`` is absent (or expired); return whether it was stored.

        The building block of replay caches: exactly one of several concurrent callers wins.
        """
        raise NotImplementedError

    def get(self, key: str) -> str | None:
        """The value under ``key``, or None when absent or expired."""
        raise NotImplementedError

    def take(self, key: str) -> str | None:
        """Atomically read and delete: of several concurrent callers exactly one gets the value."""
        raise NotImplementedError

    def incr(self, key: str, ttl: int) -> int:
        """Add one to the counter under ``key`` and return the new value.

        The expiry is set when the counter is created (a fixed window), not pushed back by later increments.
        """
        raise NotImplementedError

    def ttl(self, key: str) -> int | None:
        """Seconds left before ``key`` expires, or None when absent."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        raise NotImplementedError
