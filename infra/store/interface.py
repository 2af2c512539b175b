"""The ephemeral store: short-lived state shared by every web process of an app.

CAPTCHA answers, sign-in transactions, server-side sessions, rate-limit counters, receipts shown once and replay
caches live here. A few verbs (after node-oidc-provider's storage adapter), three implementations that pass one
contract test suite (``tests/infra/test_store_contract.py``): Redis in production, a table of the SQL database for
the embedded default, and a dictionary for a single-process development tool. Values are strings; callers
serialise what they store.

An entry may be tagged with the OpenID Connect session id (``sid``) and subject (``sub``) it belongs to, so that a
logout can end every session of a signed-in person without scanning the store (:meth:`EphemeralStore.delete_tagged`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class StoreUnavailable(Exception):
    """The store did not answer: Redis stopped, unreachable, failing over or refusing writes, or the SQL database
    under the SQL store down. Every implementation raises this (never its driver's own error) for an outage, so
    that the apps answer « service momentanément indisponible » and workers wait and retry; a programming error
    still raises as itself. The message names the kind of failure, never an address or a key."""


@dataclass(frozen=True)
class Entry:
    """An entry written along with another call, in its round trip (:meth:`EphemeralStore.set`'s ``retiring``,
    :meth:`EphemeralStore.take`'s ``leaving``)."""

    key: str
    value: str
    ttl: int
    sid: str | None = None
    sub: str | None = None


@runtime_checkable
class EphemeralStore(Protocol):
    def set(
        self,
        key: str,
        value: str,
        ttl: int,
        *,
        sid: str | None = None,
        sub: str | None = None,
        retiring: Entry | None = None,
    ) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, replacing any previous value and tags.

        ``retiring``: another entry written in the same call (one round trip; on the SQL store, one transaction),
        before ``key``, with its own value, expiry and tags: a session moved to a new id, its previous entry kept a
        short while (:data:`infra.sessions.REPLACED_GRACE`).
        """
        raise NotImplementedError

    def batched(self, *, sets: bool = True) -> AbstractContextManager[None]:
        """A block whose :meth:`set` calls (this thread's), and its :meth:`delete` calls marked ``deferrable``, may
        be held and sent together, in one round trip, when the block ends, or with the block's next other call,
        which is sent after them: a read in the block sees what it wrote, and the calls reach the store in the order
        they were made. Only their visibility to other clients is later than the calls. For writes whose keys nobody
        else can know before the block's answer leaves (a new random id). A block that raises still sends what it
        held (an outage's error is left to the exception being raised). The SQL and memory stores write at once.

        Nested blocks are one, sent when the outermost ends. ``sets=False``: a block that holds only deferrable
        deletes, and what the blocks nested in it held (the sets of an inner block stay held after it ends); its
        other sets are sent at once, with what it holds. Every request with a server-side session runs in one,
        closed after the session is saved (:mod:`infra.sessions`): the session's write carries what the request held.
        """
        raise NotImplementedError

    def add(self, key: str, value: str, ttl: int) -> bool:
        """Store ``value`` only if ``key`` is absent (or expired); return whether it was stored.

        The building block of replay caches: exactly one of several concurrent callers wins.
        """
        raise NotImplementedError

    def get(self, key: str) -> str | None:
        """The value under ``key``, or None when absent or expired."""
        raise NotImplementedError

    def take(self, key: str, *, leaving: Entry | None = None) -> str | None:
        """Atomically read and delete: of several concurrent callers exactly one gets the value.

        ``leaving``: an entry (without tags) written in the same call (one round trip; on the SQL store, one
        transaction), whatever the key held: a short-lived mark of what was taken.
        """
        raise NotImplementedError

    def incr(self, key: str, ttl: int) -> int:
        """Add one to the counter under ``key`` and return the new value.

        The expiry is set when the counter is created (a fixed window), not pushed back by later increments.
        """
        raise NotImplementedError

    def incr_unless(self, key: str, ttl: int, guards: Sequence[str]) -> tuple[int, int | None]:
        """:meth:`incr` the counter under ``key`` unless one of the ``guards`` keys is live, in one round trip.

        Returns ``(count, locked_for)``: the counter's new value (0 when it was not incremented) and the seconds left
        on the longest-lived live guard, or None when none is live. A caller that gets ``locked_for`` treats the
        call as refused, whatever ``count`` says: a guard set by another caller while this one ran is either seen
        before the increment (Redis and memory check and count atomically) or in a second look after it (SQL).
        The building block of throttles that must count a try before it is evaluated, unless a lock is set.
        """
        raise NotImplementedError

    def ttl(self, key: str) -> int | None:
        """Seconds left before ``key`` expires (rounded up), or None when absent."""
        raise NotImplementedError

    def delete(self, key: str, *, deferrable: bool = False) -> None:
        """Remove ``key`` if present.

        ``deferrable``: inside a :meth:`batched` block, the removal may be held like the block's writes and sent
        with its next call or when it ends; for a key whose removal other clients may see a moment later (a
        throttle's count started again after a success). Outside a block, and on the SQL and memory stores, at once.
        """
        raise NotImplementedError

    def delete_tagged(self, *, sid: str | None = None, sub: str | None = None) -> int:
        """Remove every live entry tagged with this ``sid`` (or, without one, this ``sub``); return how many."""
        raise NotImplementedError

    def purge_expired(self) -> int:
        """Remove expired entries now (Redis expires them itself); return how many."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the store owns (connections, a database of its own)."""
        raise NotImplementedError
