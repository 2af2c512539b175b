"""Ephemeral store on Redis: production, shared by every web process on every machine."""

from __future__ import annotations

import math
from typing import cast

import redis

# INCR then set the expiry only when the counter was just created: a fixed window, atomically.
_INCR_WITH_EXPIRY = """
local value = redis.call('INCR', KEYS[1])
if value == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return value
"""


class RedisStore:
    """Implements :class:`idp.store.interface.EphemeralStore` on Redis (6.2 or later, for GETDEL)."""

    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix
        self._incr = client.register_script(_INCR_WITH_EXPIRY)

    @classmethod
    def from_url(cls, url: str, prefix: str = "") -> RedisStore:
        return cls(redis.Redis.from_url(url, decode_responses=True), prefix)

    def _key(self, key: str) -> str:
        return self.prefix + key

    def set(self, key: str, value: str, ttl: int) -> None:
        self.client.set(self._key(key), value, ex=ttl)

    def add(self, key: str, value: str, ttl: int) -> bool:
        return bool(self.client.set(self._key(key), value, ex=ttl, nx=True))

    def get(self, key: str) -> str | None:
        return cast("str | None", self.client.get(self._key(key)))

    def take(self, key: str) -> str | None:
        return cast("str | None", self.client.getdel(self._key(key)))

    def incr(self, key: str, ttl: int) -> int:
        return int(cast(int, self._incr(keys=[self._key(key)], args=[ttl])))

    def ttl(self, key: str) -> int | None:
        # PTTL rounded up, as the SQL store does: TTL would round a live key's last half second down to 0 and
        # report it absent. PTTL answers -2 for an absent key (and -1 for one without expiry, which we never set).
        left_ms = int(self.client.pttl(self._key(key)))
        return math.ceil(left_ms / 1000) if left_ms > 0 else None

    def delete(self, key: str) -> None:
        self.client.delete(self._key(key))
