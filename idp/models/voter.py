"""Voters: the accounts of the identity provider."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Date, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base, UTCDateTime, utcnow


def new_subject() -> str:
    """A stable, meaningless public identifier (the OIDC ``sub`` for first-party clients)."""
    return uuid.uuid4().hex


class Voter(Base):
    __tablename__ = "voter"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(32), unique=True, default=new_subject)
    #: Academic e-mail address, lower-cased: ``prenom.nom@ac-<academie>.fr``.
    identifier: Mapped[str] = mapped_column(String(254), unique=True)
    family_name: Mapped[str] = mapped_column(String(200))
    first_names: Mapped[str] = mapped_column(String(300))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    #: INSEE code of the birthplace (commune in France, ``99xxx`` country code abroad).
    birthplace: Mapped[str] = mapped_column(String(5))
    #: "F", "M" or None (optional column of the import).
    gender: Mapped[str | None] = mapped_column(String(1), default=None)
    academie: Mapped[str] = mapped_column(String(100))
    #: Keyed hashes (HMAC-SHA256) only; the clear NUMEN and NIR are never stored.
    numen_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    nir_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    challenge_question: Mapped[str | None] = mapped_column(String(40), default=None)
    challenge_answer_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    activated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: Incremented whenever every session of the voter must end (password change).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def is_activated(self) -> bool:
        return self.password_hash is not None


class OneTimeLink(Base):
    """A single-use link (activation, réassort): only the hash of its token is stored."""

    __tablename__ = "one_time_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    voter_id: Mapped[int] = mapped_column(ForeignKey("voter.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
