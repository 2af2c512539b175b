"""What is being voted on and by whom: scrutins, candidate lists and candidates, electoral rolls.

Loaded by ``portal election import``; the portal only reads them while the election runs.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from relying_party.models.base import Base, UTCDateTime
from votecrypto.ballot import CURRENT_FORMAT

#: Kinds of scrutin of the professional elections, with their French label.
SCRUTIN_KINDS: dict[str, str] = {
    "csa_ministeriel": "CSA ministériel",
    "csa_academique": "CSA académique",
    "csa_departemental": "CSA spécial départemental",
    "csa_etablissement": "CSA d'établissement",
    "cap_nationale": "CAP nationale",
    "cap_academique": "CAP académique",
    "cap_departementale": "CAP départementale",
    "ccp": "CCP",
    "ccp_academique": "CCP académique",
}


class Scrutin(Base):
    __tablename__ = "portal_scrutin"
    __table_args__ = (CheckConstraint("closes_at > opens_at", name="window"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable identifier used by the import and the operators' commands (e.g. ``CSA-MEN-2022``).
    code: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40))
    opens_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    #: The key ceremony whose election key the ballots are encrypted to. No complete ceremony: no vote.
    key_ceremony_id: Mapped[int | None] = mapped_column(ForeignKey("portal_key_ceremony.id"))
    #: The election manifest's version, i.e. the format of its ballots' proofs (:data:`votecrypto.ballot.FORMATS`):
    #: fixed when the scrutin is created (new scrutins: the current format), never changed after, since the election
    #: hash covers it. The scrutins created before the column existed hold 1 (the column's server default).
    manifest_version: Mapped[int] = mapped_column(default=CURRENT_FORMAT, server_default="1")

    lists: Mapped[list[CandidateList]] = relationship(
        back_populates="scrutin", order_by="CandidateList.position", cascade="all, delete-orphan"
    )

    @property
    def kind_label(self) -> str:
        return SCRUTIN_KINDS.get(self.kind, self.kind)

    def is_open(self, now: dt.datetime) -> bool:
        return self.opens_at <= now < self.closes_at


class CandidateList(Base):
    __tablename__ = "portal_candidate_list"
    __table_args__ = (
        UniqueConstraint("scrutin_id", "position"),
        # Target of the ballot's composite foreign key: a ballot can only name a list of its own scrutin.
        UniqueConstraint("scrutin_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scrutin_id: Mapped[int] = mapped_column(ForeignKey("portal_scrutin.id", ondelete="CASCADE"))
    #: Order on the ballot (1, 2, …), drawn or fixed by the administration.
    position: Mapped[int]
    organisation: Mapped[str] = mapped_column(String(300))
    #: Optional title of the list when it differs from the organisation (union of organisations, say).
    title: Mapped[str | None] = mapped_column(String(300))
    #: The "profession de foi" PDF, in the database so that every web process can serve it. Deferred: listing the
    #: lists never loads it.
    profession_de_foi: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    profession_de_foi_sha256: Mapped[str | None] = mapped_column(String(64))

    scrutin: Mapped[Scrutin] = relationship(back_populates="lists")
    candidates: Mapped[list[Candidate]] = relationship(
        back_populates="candidate_list", order_by="Candidate.position", cascade="all, delete-orphan"
    )

    @property
    def display_name(self) -> str:
        return self.title or self.organisation


class Candidate(Base):
    __tablename__ = "portal_candidate"
    __table_args__ = (UniqueConstraint("list_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("portal_candidate_list.id", ondelete="CASCADE"))
    position: Mapped[int]
    civility: Mapped[str] = mapped_column(String(10))
    family_name: Mapped[str] = mapped_column(String(200))
    given_name: Mapped[str] = mapped_column(String(200))

    candidate_list: Mapped[CandidateList] = relationship(back_populates="candidates")

    @property
    def display_name(self) -> str:
        return f"{self.civility} {self.family_name.upper()} {self.given_name}"


class RollEntry(Base):
    """One line of an electoral roll: this voter (the IdP's ``email`` claim) votes in this scrutin."""

    __tablename__ = "portal_roll_entry"
    __table_args__ = (
        UniqueConstraint("scrutin_id", "voter_identifier"),
        Index("ix_portal_roll_entry_voter_identifier", "voter_identifier"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scrutin_id: Mapped[int] = mapped_column(ForeignKey("portal_scrutin.id", ondelete="CASCADE"))
    #: The academic address, lower case, as the IdP's ``email`` claim gives it.
    voter_identifier: Mapped[str] = mapped_column(String(254))
    #: As the roll shows it, e.g. "Mme JULLIEN Claire".
    display_name: Mapped[str] = mapped_column(String(300))
