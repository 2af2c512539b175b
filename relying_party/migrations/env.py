"""Alembic environment: the engine comes from the caller (``relying_party.migrate``), never from a file."""

from __future__ import annotations

from typing import Any

from alembic import context

from relying_party.migrate import VERSION_TABLE
from relying_party.models import Base


def _own_tables_only(name: str | None, type_: str, parent_names: Any) -> bool:
    """Autogenerate compares only the portal's tables: the IdP may live in the same database."""
    return type_ != "table" or bool(name and name.startswith("portal_"))


engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
        version_table=VERSION_TABLE,
        include_name=_own_tables_only,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
