"""Throttling and temporary lockout, counted in the ephemeral store so every process shares them.

Failures are counted per identifier and per client address in fixed windows; reaching the threshold sets a lock
for a configured duration. Keys are keyed hashes: the store never holds an identifier or an address in clear.
Unknown identifiers are counted and locked exactly like existing ones, so a lockout reveals nothing.

**A guessable secret is tried only after its try is reserved** (:meth:`Throttle.reserve`). Checking the lock,
then verifying the secret (argon2 takes tens of milliseconds), then counting the failure let a burst of parallel
requests all pass the check before the first failure was counted: 30 parallel wrong passwords got 8 evaluated with
a threshold of 5, and a right password sent 7th signed in while the lock was already set. Now the try is counted
first, with the store's atomic ``incr``: the n-th try of the window is evaluated only if n is within the threshold,
and the try that reaches it sets the lock if it fails (:meth:`Throttle.failed`). Whatever the concurrency and the
number of processes, at most ``threshold`` tries of one secret holder are evaluated per window until one succeeds.

Counts per client address stay counted after the verification (:meth:`Throttle.failure`): many voters share an
address (a school, a ministry's proxy), so a successful sign-in must not use up the address's budget, and a burst
from one address against many identifiers is already bounded per identifier by the reservation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from idp.security.keyed import KeyedHasher
from infra.store import EphemeralStore


@dataclass(frozen=True)
class Limit:
    threshold: int
    window: int
    lock_for: int


@dataclass(frozen=True)
class Attempt:
    """One try at a guessable secret, reserved before the secret is verified (:meth:`Throttle.reserve`)."""

    #: Whether the secret may be verified. When False, answer "locked" without looking at the secret.
    allowed: bool
    #: The try's number in the current window (0 when refused before it was counted).
    number: int = 0
    #: Seconds to tell the voter to wait, when refused.
    retry_after: int | None = None


class Throttle:
    def __init__(self, store: EphemeralStore, keyed: KeyedHasher, scope: str) -> None:
        self.store = store
        self.keyed = keyed
        self.scope = scope

    def _ref(self, kind: str, value: str) -> str:
        return self.keyed.hexdigest(f"throttle:{self.scope}:{kind}", value.casefold())[:40]

    def _count_key(self, kind: str, value: str) -> str:
        return f"fail:{self.scope}:{kind}:{self._ref(kind, value)}"

    def _lock_key(self, kind: str, value: str) -> str:
        return f"lock:{self.scope}:{kind}:{self._ref(kind, value)}"

    def locked_for(self, kind: str, value: str) -> int | None:
        """Seconds left on the lock of ``value``, or None if it is not locked."""
        return self.store.ttl(self._lock_key(kind, value))

    def reserve(self, kind: str, value: str, limit: Limit, *, unless: Sequence[tuple[str, str]] = ()) -> Attempt:
        """Count one try of ``value``'s secret *before* it is verified; verify it only if ``allowed``.

        One round trip to the store (:meth:`~infra.store.interface.EphemeralStore.incr_unless`): a locked holder's
        tries are not counted (they would lengthen the lock), a lock set by a concurrent try is seen, and a try
        beyond the threshold is refused even while the try that reached it is still being verified. ``unless``
        names other locks, as ``(kind, value)``, that refuse the try just as well (the client address's).
        """
        guards = [self._lock_key(kind, value), *(self._lock_key(k, v) for k, v in unless)]
        number, left = self.store.incr_unless(self._count_key(kind, value), limit.window, guards)
        if left:
            return Attempt(False, number, left)
        if number > limit.threshold:
            return Attempt(False, number, limit.lock_for)
        return Attempt(True, number)

    def failed(self, kind: str, value: str, limit: Limit, attempt: Attempt) -> bool:
        """The reserved ``attempt`` was wrong; return True when it is the one that sets the lock.

        Only the try that reached the threshold sets it (``add``: one winner, one audit event); the count then
        starts again for the time after the lock.
        """
        if not attempt.allowed or attempt.number < limit.threshold:
            return False
        locked = self.store.add(self._lock_key(kind, value), "1", limit.lock_for)
        self.store.delete(self._count_key(kind, value))
        return locked

    def failure(self, kind: str, value: str, limit: Limit) -> bool:
        """Count one failure after the fact; return True when this failure sets the lock.

        For counts that must not reserve (per client address, see the module) and for refusals that are not a
        guess (an identity proved elsewhere that designates someone else).
        """
        count = self.store.incr(self._count_key(kind, value), limit.window)
        if count >= limit.threshold:
            # add(): of several concurrent failures crossing the threshold, one sets (and audits) the lock.
            locked = self.store.add(self._lock_key(kind, value), "1", limit.lock_for)
            self.store.delete(self._count_key(kind, value))
            return locked
        return False

    def hit(self, kind: str, value: str, limit: Limit) -> bool:
        """Count one request against a rate limit; return True when the limit is exceeded."""
        count = self.store.incr(f"rate:{self.scope}:{kind}:{self._ref(kind, value)}", limit.window)
        return count > limit.threshold

    def reset(self, kind: str, value: str) -> None:
        """A success: the holder's count starts again (a lock, if one is set, stays until it expires).

        Deferrable: in a request, the removal travels with the store's next call (the request's block of held
        writes, :mod:`infra.sessions`), not in a round trip of its own. A try counted meanwhile by a concurrent
        request may be wiped with it, as it already could between the count and the success.
        """
        self.store.delete(self._count_key(kind, value), deferrable=True)
