"""The portal's ephemeral store: server-side sessions, receipts shown once, the logout-token replay cache.

A few verbs, two implementations (:mod:`.sql` on the portal's database, :mod:`.redis`), one contract test suite.
Entries may carry the IdP session id (``sid``) and subject (``sub``) they belong to, so that a back-channel logout
can end every portal session of an IdP session without scanning the store.
"""

from __future__ import annotations

from typing import Protocol


class EphemeralStore(Protocol):
    def get(self, key: str) -> str | None:
        """The value, or None if absent or expired."""

    def set(self, key: str, value: str, ttl: int, *, idp_sid: str | None = None, idp_sub: str | None = None) -> None:
        """Store ``value`` for ``ttl`` seconds, replacing any previous value and tags."""

    def add(self, key: str, value: str, ttl: int) -> bool:
        """Store only if absent (or expired); True if this call stored it. Atomic: a replay cache."""

    def delete(self, key: str) -> None:
        """Remove the entry if present."""

    def delete_tagged(self, *, idp_sid: str | None = None, idp_sub: str | None = None) -> int:
        """Remove every entry tagged with this IdP ``sid`` (or, without one, this ``sub``); return how many."""

    def purge_expired(self) -> int:
        """Remove expired entries (Redis expires them itself); return how many."""

    def close(self) -> None:
        """Release connections (end of a process or of a test)."""
