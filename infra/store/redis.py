"""Ephemeral store on Redis: production, shared by every web process on every machine (Redis 6.2+, for GETDEL)."""

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

# Add a key to a tag's set, and make the set live at least as long as that key (never shorten it).
_TAG = """
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
"""

#: Tag sets live under this part of the prefix; no caller's key starts with it.
TAG_NAMESPACE = "tags:"


class RedisStore:
    """Implements :class:`infra.store.interface.EphemeralStore` on Redis; every key starts with ``prefix``.

    Tags are sets of keys (``<prefix>tags:sid:<sid>``) that live as long as their longest-lived member.
    """

    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix
        self._incr = client.register_script(_INCR_WITH_EXPIRY)
        self._tag = client.register_script(_TAG)

    @classmethod
    def from_url(cls, url: str, prefix: str = "") -> RedisStore:
        return cls(redis.Redis.from_url(url, decode_responses=True), prefix)

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _tag_key(self, kind: str, value: str) -> str:
        return f"{self.prefix}{TAG_NAMESPACE}{kind}:{value}"

    def set(self, key: str, value: str, ttl: int, *, sid: str | None = None, sub: str | None = None) -> None:
        ttl = max(1, int(ttl))
        with self.client.pipeline() as pipe:
            pipe.set(self._key(key), value, ex=ttl)
            for kind, tag in (("sid", sid), ("sub", sub)):
                if tag:
                    self._tag(keys=[self._tag_key(kind, tag)], args=[key, ttl], client=pipe)
            pipe.execute()

    def add(self, key: str, value: str, ttl: int) -> bool:
        return bool(self.client.set(self._key(key), value, ex=max(1, int(ttl)), nx=True))

    def get(self, key: str) -> str | None:
        return cast("str | None", self.client.get(self._key(key)))

    def take(self, key: str) -> str | None:
        return cast("str | None", self.client.getdel(self._key(key)))

    def incr(self, key: str, ttl: int) -> int:
        return int(cast(int, self._incr(keys=[self._key(key)], args=[max(1, int(ttl))])))

    def ttl(self, key: str) -> int | None:
        # PTTL rounded up, as the SQL store does: TTL would round a live key's last half second down to 0 and
        # report it absent. PTTL answers -2 for an absent key (and -1 for one without expiry, which we never set).
        left_ms = int(self.client.pttl(self._key(key)))
        return math.ceil(left_ms / 1000) if left_ms > 0 else None

    def delete(self, key: str) -> None:
        self.client.delete(self._key(key))

    def delete_tagged(self, *, sid: str | None = None, sub: str | None = None) -> int:
        if sid:
            tag = self._tag_key("sid", sid)
        elif sub:
            tag = self._tag_key("sub", sub)
        else:
            return 0
        members = cast("set[str]", self.client.smembers(tag))
        removed = int(self.client.delete(*(self._key(m) for m in members))) if members else 0
        self.client.delete(tag)
        return removed

    def purge_expired(self) -> int:
        return 0

    def close(self) -> None:
        self.client.close()
