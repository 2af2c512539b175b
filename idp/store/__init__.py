"""The ephemeral store and its two implementations, chosen by configuration."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from sqlalchemy.engine import Engine

from idp.store.interface import EphemeralStore

EXTENSION_KEY = "idp.store"


def build_store(config: dict[str, Any], engine: Engine) -> EphemeralStore:
    """Redis when ``IDP_REDIS_URL`` is set, the SQL table otherwise."""
    prefix = str(config.get("REDIS_PREFIX") or "")
    if config.get("REDIS_URL"):
        from idp.store.redis import RedisStore

        return RedisStore.from_url(str(config["REDIS_URL"]), prefix)
    from idp.store.sql import SQLStore, separate_sqlite_engine

    if engine.dialect.name == "sqlite":
        # SQLite locks the whole file: a request holding the main database must not wait on its own store
        # writes, so the store gets a file of its own beside the main one.
        return SQLStore(separate_sqlite_engine(engine), prefix)
    return SQLStore(engine, prefix)


def init_app(app: Flask, store: EphemeralStore) -> None:
    app.extensions[EXTENSION_KEY] = store


def get_store(app: Flask | None = None) -> EphemeralStore:
    store = (app or current_app).extensions[EXTENSION_KEY]
    assert isinstance(store, EphemeralStore)
    return store


__all__ = ["EphemeralStore", "build_store", "get_store", "init_app"]
