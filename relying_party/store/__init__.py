"""The portal's ephemeral store (:mod:`infra.store`): Redis when ``PORTAL_REDIS_URL`` is set, else its SQL table.

Server-side sessions, receipts shown once and the logout-token replay cache live there; sessions are tagged with the
IdP session and subject they belong to, so that a back-channel logout ends them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Engine

from infra.store import EphemeralStore, get_store, init_app, redis_settings
from infra.store import build_store as _build
from relying_party.models.ephemeral import portal_ephemeral


def build_store(config: Mapping[str, Any], engine: Engine) -> EphemeralStore:
    """The store the portal's configuration asks for; keys are prefixed with ``PORTAL_REDIS_PREFIX``."""
    return _build(redis_settings(config), str(config.get("REDIS_PREFIX") or ""), engine=engine, table=portal_ephemeral)


__all__ = ["EphemeralStore", "build_store", "get_store", "init_app"]
