"""Accounts of the identity provider: voters, the auditors who read the audit log, and the operators who watch
the election from the operators' console.

All sign in through the same screens, so they share one table. An auditor (``role`` "auditor") or an operator
(``role`` "operator") carries no civil identity and no identity numbers: without them no vote code is issued to it
(``idp codes issue`` reads voters only), no réassort or FranceConnect match can designate it, and the check
constraints below keep it that way in the database itself.

A class (and table) per kind of account was weighed and left aside: the sign-in screens, the throttles, the session
epoch and every table of the OpenID Provider (tokens, consents, client sessions: ``voter_id`` foreign keys) would
have to know two or three tables for what is one account signing in; the role and the check constraints give the
guarantees that matter (no identity, hence no vote code, no réassort, no match, for anyone but a voter) in one.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base, UTCDateTime, utcnow


def new_subject() -> str:
    """A stable, meaningless public identifier (the OIDC ``sub`` for first-party clients)."""
    return uuid.uuid4().hex


#: ``Voter.role`` of the accounts on the electoral rolls, of the accounts that may read the audit log, and of those
#: that may read the operators' console (migration 0007).
ROLE_VOTER = "voter"
ROLE_AUDITOR = "auditor"
ROLE_OPERATOR = "operator"
ROLES = (ROLE_VOTER, ROLE_AUDITOR, ROLE_OPERATOR)

#: The civil identity and identity numbers every voter has and no other account has (migrations 0004, 0007).
_IDENTITY_COLUMNS = ("birth_date", "birthplace", "academie", "numen_hash", "nir_hash")


class Voter(Base):
    __tablename__ = "voter"
    __table_args__ = (
        CheckConstraint("role IN (" + ", ".join(f"'{role}'" for role in ROLES) + ")", name="role"),
        CheckConstraint(
            f"role <> '{ROLE_VOTER}' OR ({' AND '.join(f'{c} IS NOT NULL' for c in _IDENTITY_COLUMNS)})",
            name="voter_identity",
        ),
        CheckConstraint(
            f"role = '{ROLE_VOTER}' OR ({' AND '.join(f'{c} IS NULL' for c in _IDENTITY_COLUMNS)})",
            name="staff_no_identity",
        ),
        # The FranceConnect matching looks voters up by birth date and birthplace (idp.federation.matching): without
        # this index every federated sign-in would scan the whole table (1.4 million rows).
        Index("ix_voter_birth_date_birthplace", "birth_date", "birthplace"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(32), unique=True, default=new_subject)
    #: Academic e-mail address, lower-cased: ``prenom.nom@ac-<academie>.fr`` (any address for an auditor).
    identifier: Mapped[str] = mapped_column(String(254), unique=True)
    #: "voter", "auditor" or "operator" (see the module docstring).
    role: Mapped[str] = mapped_column(String(10), default=ROLE_VOTER, server_default=ROLE_VOTER)
    family_name: Mapped[str] = mapped_column(String(200))
    first_names: Mapped[str] = mapped_column(String(300))
    #: Civil identity and identity numbers: set for every voter, None for every auditor (check constraints).
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    #: INSEE code of the birthplace (commune in France, ``99xxx`` country code abroad).
    birthplace: Mapped[str | None] = mapped_column(String(5))
    #: "F", "M" or None (optional column of the import).
    gender: Mapped[str | None] = mapped_column(String(1), default=None)
    academie: Mapped[str | None] = mapped_column(String(100))
    #: Keyed hashes (HMAC-SHA256) only; the clear NUMEN and NIR are never stored.
    numen_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    nir_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
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

    @property
    def is_auditor(self) -> bool:
        return self.role == ROLE_AUDITOR

    @property
    def is_operator(self) -> bool:
        return self.role == ROLE_OPERATOR

    @property
    def is_voter(self) -> bool:
        return self.role == ROLE_VOTER


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
