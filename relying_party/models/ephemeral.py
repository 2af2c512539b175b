"""The SQL implementation's table of the ephemeral store (sessions, receipts shown once, replay cache).

Its layout is the suite's (:func:`infra.store.sql.ephemeral_table`): sessions are tagged with the IdP session
(``sid``) and subject (``sub``) they belong to, so that a back-channel logout ends them.
"""

from __future__ import annotations

from infra.store.sql import ephemeral_table
from relying_party.models.base import Base

portal_ephemeral = ephemeral_table(Base.metadata, "portal_ephemeral")
