"""Throttling and temporary lockout, counted in the ephemeral store so every process shares them.

Failures are counted per identifier and per client address in fixed windows; reaching the threshold sets a lock
for a configured duration. Keys are keyed hashes: the store never holds an identifier or an address in clear.
Unknown identifiers are counted and locked exactly like existing ones, so a lockout reveals nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.security.keyed import KeyedHasher
from infra.store import EphemeralStore


@dataclass(frozen=True)
class Limit:
    threshold: int
    window: int
    lock_for: int


class Throttle:
    def __init__(self, store: EphemeralStore, keyed: KeyedHasher, scope: str) -> None:
        self.store = store
        self.keyed = keyed
        self.scope = scope

    def _ref(self, kind: str, value: str) -> str:
        return self.keyed.hexdigest(f"throttle:{self.scope}:{kind}", value.casefold())[:40]

    def locked_for(self, kind: str, value: str) -> int | None:
        """Seconds left on the lock of ``value``, or None if it is not locked."""
        return self.store.ttl(f"lock:{self.scope}:{kind}:{self._ref(kind, value)}")

    def failure(self, kind: str, value: str, limit: Limit) -> bool:
        """Count one failure; return True when this failure sets the lock."""
        ref = self._ref(kind, value)
        count = self.store.incr(f"fail:{self.scope}:{kind}:{ref}", limit.window)
        if count >= limit.threshold:
            # add(): of several concurrent failures crossing the threshold, one sets (and audits) the lock.
            locked = self.store.add(f"lock:{self.scope}:{kind}:{ref}", "1", limit.lock_for)
            self.store.delete(f"fail:{self.scope}:{kind}:{ref}")
            return locked
        return False

    def hit(self, kind: str, value: str, limit: Limit) -> bool:
        """Count one request against a rate limit; return True when the limit is exceeded."""
        count = self.store.incr(f"rate:{self.scope}:{kind}:{self._ref(kind, value)}", limit.window)
        return count > limit.threshold

    def reset(self, kind: str, value: str) -> None:
        self.store.delete(f"fail:{self.scope}:{kind}:{self._ref(kind, value)}")
