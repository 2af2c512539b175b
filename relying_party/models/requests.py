"""What voters send the organisers: assistance requests and complaints ("réclamations")."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from relying_party.models.base import Base, UTCDateTime, utcnow


class SupportRequest(Base):
    """ "Formulaire de demande d'assistance": open to voters who cannot sign in, so nothing comes from a session
    unless the voter is signed in."""

    __tablename__ = "portal_support_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(254))
    academie: Mapped[str | None] = mapped_column(String(100))
    topic: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    #: The signed-in voter's identifier, when the form was sent from a session.
    voter_identifier: Mapped[str | None] = mapped_column(String(254))


class Complaint(Base):
    """ "Formuler une réclamation" about a scrutin or a roll; the reference is shown to the voter."""

    __tablename__ = "portal_complaint"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    voter_identifier: Mapped[str] = mapped_column(String(254))
    scrutin_id: Mapped[int | None] = mapped_column(ForeignKey("portal_scrutin.id", ondelete="SET NULL"))
    topic: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
