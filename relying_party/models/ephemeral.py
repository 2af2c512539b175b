"""The SQL implementation's table of the ephemeral store (sessions, receipts shown once, replay cache)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from relying_party.models.base import Base, UTCDateTime


class EphemeralEntry(Base):
    __tablename__ = "portal_ephemeral"
    __table_args__ = (
        Index("ix_portal_ephemeral_expires_at", "expires_at"),
        Index("ix_portal_ephemeral_idp_sid", "idp_sid"),
        Index("ix_portal_ephemeral_idp_sub", "idp_sub"),
    )

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    #: For sessions: the IdP session and subject they belong to, so back-channel logout can end them.
    idp_sid: Mapped[str | None] = mapped_column(String(200))
    idp_sub: Mapped[str | None] = mapped_column(String(200))
