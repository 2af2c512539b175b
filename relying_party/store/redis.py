"""Ephemeral store on Redis (production): entries expire by themselves; tags are sets of keys."""

from __future__ import annotations

from typing import cast

import redis


class RedisStore:
    def __init__(self, client: redis.Redis, prefix: str, tag_ttl: int) -> None:
        self.client = client
        self.prefix = prefix
        #: Tag sets live as long as the longest session could (PORTAL_SESSION_ABSOLUTE_TIMEOUT).
        self.tag_ttl = tag_ttl

    @classmethod
    def from_url(cls, url: str, prefix: str, tag_ttl: int) -> RedisStore:
        return cls(redis.Redis.from_url(url, decode_responses=True), prefix, tag_ttl)

    def _key(self, key: str) -> str:
        return self.prefix + "e:" + key

    def _tag(self, kind: str, value: str) -> str:
        return f"{self.prefix}t:{kind}:{value}"

    def get(self, key: str) -> str | None:
        return cast("str | None", self.client.get(self._key(key)))

    def set(self, key: str, value: str, ttl: int, *, idp_sid: str | None = None, idp_sub: str | None = None) -> None:
        with self.client.pipeline() as pipe:
            pipe.set(self._key(key), value, ex=max(1, ttl))
            for kind, tag in (("sid", idp_sid), ("sub", idp_sub)):
                if tag:
                    pipe.sadd(self._tag(kind, tag), key)
                    pipe.expire(self._tag(kind, tag), self.tag_ttl)
            pipe.execute()

    def add(self, key: str, value: str, ttl: int) -> bool:
        return bool(self.client.set(self._key(key), value, ex=max(1, ttl), nx=True))

    def delete(self, key: str) -> None:
        self.client.delete(self._key(key))

    def delete_tagged(self, *, idp_sid: str | None = None, idp_sub: str | None = None) -> int:
        if idp_sid:
            tag = self._tag("sid", idp_sid)
        elif idp_sub:
            tag = self._tag("sub", idp_sub)
        else:
            return 0
        members = cast("set[str]", self.client.smembers(tag))
        if not members:
            return 0
        removed = int(self.client.delete(*(self._key(m) for m in members)))
        self.client.delete(tag)
        return removed

    def purge_expired(self) -> int:
        return 0

    def close(self) -> None:
        self.client.close()
