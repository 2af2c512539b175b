"""Choice of the ephemeral store by configuration; one per application, in ``app.extensions``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app
from sqlalchemy.engine import Engine

from relying_party.store.interface import EphemeralStore

EXTENSION_KEY = "portal.store"


def build_store(config: Mapping[str, Any], engine: Engine) -> EphemeralStore:
    if config.get("REDIS_URL"):
        from relying_party.store.redis import RedisStore

        return RedisStore.from_url(
            str(config["REDIS_URL"]), str(config["REDIS_PREFIX"]), int(config["SESSION_ABSOLUTE_TIMEOUT"])
        )
    from relying_party.store.sql import SqlStore

    return SqlStore(engine)


def init_app(app: Flask, store: EphemeralStore) -> None:
    app.extensions[EXTENSION_KEY] = store


def get_store(app: Flask | None = None) -> EphemeralStore:
    store: EphemeralStore = (app or current_app).extensions[EXTENSION_KEY]
    return store


__all__ = ["EphemeralStore", "build_store", "get_store", "init_app"]
