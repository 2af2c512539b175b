"""Argon2id for passwords and secret answers, with parameters from configuration and rehash on change."""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    #: A new hash to store when the parameters changed since the stored one was made.
    new_hash: str | None = None


class SecretHasher:
    """Hashes and verifies secrets with argon2id (argon2-cffi)."""

    def __init__(self, time_cost: int, memory_cost: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
        # Verifying against this hash when there is nothing to verify keeps the timing of "unknown identifier"
        # close to that of "wrong password".
        self._dummy_hash = self._hasher.hash("dummy password used to equalise timing")

    def hash(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def verify(self, stored_hash: str | None, secret: str) -> VerifyResult:
        """Check ``secret``; with no stored hash, spend the same time and fail."""
        try:
            self._hasher.verify(stored_hash or self._dummy_hash, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return VerifyResult(ok=False)
        if stored_hash is None:
            return VerifyResult(ok=False)
        if self._hasher.check_needs_rehash(stored_hash):
            return VerifyResult(ok=True, new_hash=self._hasher.hash(secret))
        return VerifyResult(ok=True)
