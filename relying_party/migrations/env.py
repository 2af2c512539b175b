"""Alembic environment: the engine comes from the caller (``relying_party.migrate``), never from a file."""

from __future__ import annotations

from typing import Any

from infra.migrations import run_environment
from relying_party.migrate import VERSION_TABLE
from relying_party.models import Base


def _own_tables_only(name: str | None, type_: str, parent_names: Any) -> bool:
    """Autogenerate compares only the portal's tables: the IdP may live in the same database."""
    return type_ != "table" or bool(name and name.startswith("portal_"))


run_environment(Base.metadata, version_table=VERSION_TABLE, include_name=_own_tables_only)
