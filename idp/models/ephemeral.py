"""Table behind the SQL implementation of the ephemeral store (the embedded default; Redis in production).

Its layout is the suite's (:func:`infra.store.sql.ephemeral_table`). On SQLite the IdP keeps its store in a file of
its own beside the main database instead (see :func:`idp.store.build_store`); this table serves PostgreSQL without
Redis.
"""

from __future__ import annotations

from idp.models.base import Base
from infra.store.sql import ephemeral_table

ephemeral_entry = ephemeral_table(Base.metadata, "ephemeral_entry")
