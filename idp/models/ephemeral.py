"""Table behind the SQL implementation of the ephemeral store (the embedded default; Redis in production)."""

from __future__ import annotations

from sqlalchemy import Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base


class EphemeralEntry(Base):
    __tablename__ = "ephemeral_entry"
    __table_args__ = (Index("ix_ephemeral_entry_expires_at", "expires_at"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    #: Expiry as seconds since the epoch (UTC); rows past it are treated as absent and swept lazily.
    expires_at: Mapped[float] = mapped_column(Float)
