"""The ballot box and the émargement (who voted).

Ballot secrecy is a property of these two tables (docs/auditors/ballot-box.md):

- :class:`Ballot` holds no reference to a voter, no timestamp and no value that grows with time. Its key is a
  random UUID. On SQLite the table is ``WITHOUT ROWID``: the rows live in the B-tree of that random key, so there is
  no hidden ``rowid`` numbering them in casting order. On PostgreSQL a heap keeps rows roughly in insertion order
  (``ctid``) and stamps each with its transaction id (``xmin``), which the émargement row written in the same
  transaction shares: :mod:`relying_party.voting.mixing` re-writes ballots in batches, in random order, in a
  transaction of its own, which gives them a shared ``xmin`` and a physical order unrelated to casting.
- :class:`Emargement` is keyed by (scrutin, voter): the database, not Python, refuses a second vote.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Boolean, ForeignKey, ForeignKeyConstraint, String, Uuid, false
from sqlalchemy.orm import Mapped, mapped_column

from relying_party.models.base import Base, UTCDateTime


class Emargement(Base):
    __tablename__ = "portal_emargement"
    __table_args__ = (
        # Only a voter on the roll of the scrutin can be marked as having voted.
        ForeignKeyConstraint(
            ["scrutin_id", "voter_identifier"],
            ["portal_roll_entry.scrutin_id", "portal_roll_entry.voter_identifier"],
            name="fk_portal_emargement_roll_entry",
        ),
    )

    scrutin_id: Mapped[int] = mapped_column(ForeignKey("portal_scrutin.id"), primary_key=True)
    voter_identifier: Mapped[str] = mapped_column(String(254), primary_key=True)
    voted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Ballot(Base):
    __tablename__ = "portal_ballot"
    __table_args__ = (
        # A list of another scrutin cannot be chosen (NULL = blank vote, not checked by MATCH SIMPLE).
        ForeignKeyConstraint(
            ["scrutin_id", "candidate_list_id"],
            ["portal_candidate_list.scrutin_id", "portal_candidate_list.id"],
            name="fk_portal_ballot_candidate_list",
        ),
        {"sqlite_with_rowid": False},
    )

    #: Random (uuid4): orders nothing.
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)
    scrutin_id: Mapped[int] = mapped_column(ForeignKey("portal_scrutin.id"))
    #: The chosen list; NULL is a blank vote.
    candidate_list_id: Mapped[int | None]
    #: The code shown to the voter on the receipt: proves the ballot is in the box, says nothing of its content.
    receipt: Mapped[str] = mapped_column(String(32), unique=True)
    #: Set once :mod:`relying_party.voting.mixing` has re-written the row (see the module docstring).
    mixed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
