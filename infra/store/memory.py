"""Ephemeral store in one process's memory: for a development tool that runs as a single process.

Never for an app with several processes (each would have its own store); the IdP, the portal and the console use
Redis or their SQL table. It passes the same contract tests as the other two.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Sequence

from infra.store.interface import Entry


class MemoryStore:
    """Implements :class:`infra.store.interface.EphemeralStore` with a dictionary behind a lock."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        #: prefixed key → (expires_at, value, sid, sub)
        self._items: dict[str, tuple[float, str, str | None, str | None]] = {}

    def view(self, prefix: str) -> MemoryStore:
        """Another store over the same memory, under another prefix (as stores of one Redis share it)."""
        other = MemoryStore(prefix)
        other._lock, other._items = self._lock, self._items
        return other

    def _live(self, key: str, now: float) -> tuple[float, str, str | None, str | None] | None:
        """The live item of a prefixed ``key`` (an expired one is removed); call with the lock held."""
        item = self._items.get(key)
        if item is not None and item[0] <= now:
            del self._items[key]
            return None
        return item

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
        key = self.prefix + key
        with self._lock:
            now = time.time()
            if retiring is not None:
                old = retiring
                self._items[self.prefix + old.key] = (now + old.ttl, old.value, old.sid, old.sub)
            self._items[key] = (now + ttl, value, sid, sub)

    def batched(self, *, sets: bool = True) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # each write is sent at once

    def add(self, key: str, value: str, ttl: int) -> bool:
        key, now = self.prefix + key, time.time()
        with self._lock:
            if self._live(key, now) is not None:
                return False
            self._items[key] = (now + ttl, value, None, None)
            return True

    def get(self, key: str) -> str | None:
        with self._lock:
            item = self._live(self.prefix + key, time.time())
        return None if item is None else item[1]

    def take(self, key: str, *, leaving: Entry | None = None) -> str | None:
        key, now = self.prefix + key, time.time()
        with self._lock:
            item = self._live(key, now)
            self._items.pop(key, None)
            if leaving is not None:
                self._items[self.prefix + leaving.key] = (now + leaving.ttl, leaving.value, None, None)
        return None if item is None else item[1]

    def incr(self, key: str, ttl: int) -> int:
        key, now = self.prefix + key, time.time()
        with self._lock:
            item = self._live(key, now)
            expires_at, value = (now + ttl, 1) if item is None else (item[0], int(item[1]) + 1)
            self._items[key] = (expires_at, str(value), None, None)
        return value

    def incr_unless(self, key: str, ttl: int, guards: Sequence[str]) -> tuple[int, int | None]:
        key, now = self.prefix + key, time.time()
        with self._lock:
            live = [item[0] for item in (self._live(self.prefix + g, now) for g in guards) if item is not None]
            if live:
                return 0, math.ceil(max(live) - now)
            item = self._live(key, now)
            expires_at, value = (now + ttl, 1) if item is None else (item[0], int(item[1]) + 1)
            self._items[key] = (expires_at, str(value), None, None)
        return value, None

    def ttl(self, key: str) -> int | None:
        now = time.time()
        with self._lock:
            item = self._live(self.prefix + key, now)
        return None if item is None else math.ceil(item[0] - now)

    def delete(self, key: str, *, deferrable: bool = False) -> None:
        with self._lock:
            self._items.pop(self.prefix + key, None)

    def delete_tagged(self, *, sid: str | None = None, sub: str | None = None) -> int:
        if not sid and not sub:
            return 0
        now = time.time()
        with self._lock:
            doomed = [
                key
                for key, (expires_at, _, item_sid, item_sub) in self._items.items()
                if key.startswith(self.prefix)
                and expires_at > now
                and ((item_sid == sid) if sid else (item_sub == sub))
            ]
            for key in doomed:
                del self._items[key]
        return len(doomed)

    def purge_expired(self) -> int:
        now = time.time()
        with self._lock:
            doomed = [key for key, item in self._items.items() if item[0] <= now]
            for key in doomed:
                del self._items[key]
        return len(doomed)

    def close(self) -> None:
        with self._lock:
            self._items.clear()
