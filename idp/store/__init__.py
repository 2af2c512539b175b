"""The IdP's ephemeral store (:mod:`infra.store`): Redis when ``IDP_REDIS_URL`` is set, else its SQL table.

On SQLite the store lives in a file of its own beside the main database (``…-ephemeral.sqlite3``): SQLite locks the
whole file, and a request holding the main database must not wait on its own store writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Engine

from idp.models.ephemeral import ephemeral_entry
from infra.store import EphemeralStore, get_store, init_app, redis_settings
from infra.store import build_store as _build


def build_store(config: Mapping[str, Any], engine: Engine) -> EphemeralStore:
    """The store the IdP's configuration asks for; keys are prefixed with ``IDP_REDIS_PREFIX`` on every back end."""
    return _build(
        redis_settings(config),
        str(config.get("REDIS_PREFIX") or ""),
        engine=engine,
        table=ephemeral_entry,
        sqlite_file_of_its_own=True,
    )


__all__ = ["EphemeralStore", "build_store", "get_store", "init_app"]
