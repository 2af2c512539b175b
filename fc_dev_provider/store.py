"""Where codes, access tokens and pending logins live: JSON objects in the suite's ephemeral store.

The store is :mod:`infra.store`'s: in this process's memory by default (a development tool run as one process), or
Redis for several processes. Three verbs (after node-oidc-provider's adapter): ``put`` with a lifetime, ``get``,
``take`` (read and delete in one step: how a code is made single use, even when two requests race).

The lifetime given to ``put`` only bounds how long the store keeps a value; whether a code or token has
expired is decided by its record against the provider's clock, which tests can move forward.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from infra.store import EphemeralStore
from infra.store import build_store as build_ephemeral_store
from infra.store.memory import MemoryStore
from infra.store.redis import RedisSettings


def _decode(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    value = json.loads(raw)
    return value if isinstance(value, dict) else None


class JsonStore:
    """JSON objects over an :class:`~infra.store.EphemeralStore` (``raw``)."""

    def __init__(self, raw: EphemeralStore) -> None:
        self.raw = raw

    def put(self, key: str, value: Mapping[str, Any], ttl: float) -> None:
        self.raw.set(key, json.dumps(value), max(1, math.ceil(ttl)))

    def get(self, key: str) -> dict[str, Any] | None:
        return _decode(self.raw.get(key))

    def take(self, key: str) -> dict[str, Any] | None:
        return _decode(self.raw.take(key))

    def close(self) -> None:
        self.raw.close()


def build_store(redis: RedisSettings | str | None, prefix: str) -> JsonStore:
    """Redis when ``redis`` is given (codes issued by one process redeemed at another), else memory."""
    return JsonStore(build_ephemeral_store(redis, prefix) if redis else MemoryStore())
