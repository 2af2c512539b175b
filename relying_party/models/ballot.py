"""The encrypted ballot box and the émargement (who voted).

Ballot secrecy is a property of these tables (docs: auditors, "The ballot box"):

- :class:`Ballot` holds one ballot as the voter's browser encrypted it: the ciphertexts (one ElGamal pair per option)
  and the proofs. No voter reference, no timestamp, no value that grows with time. Its key is the tracking code, a
  digest of the ciphertexts: random-looking, it orders nothing, and a second copy of the same ciphertexts is refused
  by the database. On SQLite the table is ``WITHOUT ROWID``: rows live in the B-tree of that key, with no hidden
  ``rowid`` numbering them in casting order. On PostgreSQL a heap keeps rows roughly in insertion order (``ctid``)
  and stamps each with its transaction id (``xmin``), which the émargement row written in the same transaction
  shares: :mod:`relying_party.voting.mixing` re-writes ballots in batches, in random order, in a transaction of its
  own, which gives them a shared ``xmin`` and a physical order unrelated to casting.
- :class:`Emargement` is keyed by (scrutin, voter): the database, not Python, refuses a second vote. It keeps the
  voter's tracking code sealed with the portal's receipt key (``PORTAL_RECEIPT_KEY``, never in the database), so
  the receipt can be shown again after the ephemeral store is lost, while the database alone links no voter to a
  ballot.
- :class:`Tally` and :class:`PartialDecryption`: the homomorphic aggregate of a closed scrutin, the trustees'
  partial decryptions of it, and the result. No ballot is ever decrypted.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, ForeignKeyConstraint, Index, Integer, LargeBinary, String, Text, false
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
        # Turnout hour by hour reads this index alone (relying_party.turnout, migration 0006).
        Index("ix_portal_emargement_scrutin_id_voted_at", "scrutin_id", "voted_at"),
    )

    scrutin_id: Mapped[int] = mapped_column(ForeignKey("portal_scrutin.id"), primary_key=True)
    voter_identifier: Mapped[str] = mapped_column(String(254), primary_key=True)
    voted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    #: The tracking code, sealed with the receipt key (see :mod:`relying_party.voting.receipts`).
    receipt: Mapped[bytes | None] = mapped_column(LargeBinary)


class Ballot(Base):
    __tablename__ = "portal_ballot"
    __table_args__ = ({"sqlite_with_rowid": False},)

    #: SHA-256 of the election hash and the ciphertexts (:func:`votecrypto.ballot.tracking_code`).
    tracking_code: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    scrutin_id: Mapped[int] = mapped_column(ForeignKey("portal_scrutin.id"), index=True)
    #: ``α₀ β₀ α₁ β₁ …``: 64 bytes per option, the lists in ballot order then blank.
    ciphertexts: Mapped[bytes] = mapped_column(LargeBinary)
    #: The ballot's nonce, then per option ``c0 c1 z0 z1``, then the sum proof's ``c z`` (32 bytes each).
    proofs: Mapped[bytes] = mapped_column(LargeBinary)
    #: Set once :mod:`relying_party.voting.mixing` has re-written the row (see the module docstring).
    mixed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Tally(Base):
    """The count of a closed scrutin: computed once from the box, then decrypted by k trustees."""

    __tablename__ = "portal_tally"

    scrutin_id: Mapped[int] = mapped_column(ForeignKey("portal_scrutin.id"), primary_key=True)
    #: The election hash the aggregate belongs to.
    election: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: ``(Σα, Σβ)`` per option, concatenated like a ballot's ciphertexts.
    aggregate: Mapped[bytes] = mapped_column(LargeBinary)
    ballots: Mapped[int] = mapped_column(Integer)
    emargements: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    #: The totals per option (JSON list), once k partial decryptions were combined.
    result: Mapped[str | None] = mapped_column(Text)
    decrypted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class PartialDecryption(Base):
    __tablename__ = "portal_partial_decryption"

    scrutin_id: Mapped[int] = mapped_column(ForeignKey("portal_tally.scrutin_id"), primary_key=True)
    trustee: Mapped[int] = mapped_column(primary_key=True)
    #: ``D_i`` per option, concatenated.
    shares: Mapped[bytes] = mapped_column(LargeBinary)
    #: ``c z`` per option, concatenated.
    proofs: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
