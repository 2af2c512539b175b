"""Where codes, access tokens and pending logins live: in memory, or in Redis for several processes.

Four verbs (after node-oidc-provider's adapter): ``put`` with a lifetime, ``get``, ``take`` (read and delete
in one step: how a code is made single use, even when two requests race), ``ping``. Values are JSON objects.

The lifetime given to ``put`` only bounds how long the store keeps a value; whether a code or token has
expired is decided by its record against the provider's clock, which tests can move forward.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

import redis


class EphemeralStore(Protocol):
    def put(self, key: str, value: Mapping[str, Any], ttl: float) -> None: ...

    def get(self, key: str) -> dict[str, Any] | None: ...

    def take(self, key: str) -> dict[str, Any] | None: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


def _decode(raw: str | bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    value = json.loads(raw)
    return value if isinstance(value, dict) else None


class MemoryStore:
    """One process's dictionary behind a lock: the default, enough for a development tool on one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, str]] = {}

    def _purge(self, now: float) -> None:
        for key in [k for k, (deadline, _) in self._items.items() if deadline <= now]:
            del self._items[key]

    def put(self, key: str, value: Mapping[str, Any], ttl: float) -> None:
        now = time.monotonic()
        with self._lock:
            self._purge(now)
            self._items[key] = (now + ttl, json.dumps(value))

    def _live(self, key: str, *, remove: bool) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.pop(key, None) if remove else self._items.get(key)
        if item is None or item[0] <= time.monotonic():
            return None
        return _decode(item[1])

    def get(self, key: str) -> dict[str, Any] | None:
        return self._live(key, remove=False)

    def take(self, key: str) -> dict[str, Any] | None:
        return self._live(key, remove=True)

    def ping(self) -> None:
        """Always answers: the dictionary is in this process."""

    def close(self) -> None:
        with self._lock:
            self._items.clear()


class RedisStore:
    """Redis (``GETDEL`` needs Redis 6.2): codes issued by one process can be redeemed at another."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._prefix = prefix

    def put(self, key: str, value: Mapping[str, Any], ttl: float) -> None:
        self._redis.set(self._prefix + key, json.dumps(value), px=max(1, int(ttl * 1000)))

    def get(self, key: str) -> dict[str, Any] | None:
        return _decode(self._redis.get(self._prefix + key))

    def take(self, key: str) -> dict[str, Any] | None:
        return _decode(self._redis.getdel(self._prefix + key))

    def ping(self) -> None:
        self._redis.ping()

    def close(self) -> None:
        self._redis.close()


def build_store(redis_url: str | None, prefix: str) -> EphemeralStore:
    return RedisStore(redis_url, prefix) if redis_url else MemoryStore()
