"""The ephemeral store (:class:`EphemeralStore`) and the choice of its implementation by configuration.

One store per application, in ``app.extensions`` (:func:`init_app`, :func:`get_store`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, current_app
from sqlalchemy import Table
from sqlalchemy.engine import Engine

from infra.store.interface import EphemeralStore, StoreUnavailable

if TYPE_CHECKING:
    from infra.store.redis import RedisSettings

EXTENSION_KEY = "infra.store"
#: The SQL store's own SQLite file sits beside the app's: ``app.sqlite3`` → ``app-ephemeral.sqlite3``.
SQLITE_FILE_SUFFIX = "ephemeral"


def redis_settings(config: Mapping[str, Any]) -> RedisSettings | None:
    """The Redis an app's ``REDIS_*`` settings name (URL or Sentinels), or None for the SQL store."""
    from infra.store.redis import RedisSettings

    return RedisSettings.from_config(config)


def build_store(
    redis: RedisSettings | str | None,
    prefix: str,
    *,
    engine: Engine | None = None,
    table: Table | None = None,
    sqlite_file_of_its_own: bool = False,
) -> EphemeralStore:
    """Redis when ``redis`` is given (settings from :func:`redis_settings`, or a URL); otherwise the SQL ``table``
    on the app's ``engine``.

    ``sqlite_file_of_its_own``: on SQLite, keep the store in a file beside the main database instead (SQLite locks
    the whole file, and an app whose requests hold the main database must not wait on its own store writes).
    """
    if redis:
        from infra.store.redis import RedisSettings, RedisStore

        return RedisStore.from_settings(RedisSettings(url=redis) if isinstance(redis, str) else redis, prefix)
    from infra.store.sql import SQLStore, sibling_sqlite_url

    if engine is None or table is None:
        raise ValueError("the SQL ephemeral store needs the app's engine and table (or set a Redis URL)")
    if sqlite_file_of_its_own and engine.dialect.name == "sqlite":
        return SQLStore.standalone(sibling_sqlite_url(str(engine.url), SQLITE_FILE_SUFFIX), prefix)
    return SQLStore(engine, table, prefix)


def init_app(app: Flask, store: EphemeralStore) -> None:
    app.extensions[EXTENSION_KEY] = store


def get_store(app: Flask | None = None) -> EphemeralStore:
    """The store of ``app`` (default: the current app)."""
    return cast(EphemeralStore, (app or current_app).extensions[EXTENSION_KEY])


__all__ = ["EphemeralStore", "StoreUnavailable", "build_store", "get_store", "init_app", "redis_settings"]
