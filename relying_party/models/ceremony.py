"""The key ceremony of an election: its trustees, what each published, and the shares they sent each other.

Only public values and sealed shares are kept here: every trustee's private part stays in the trustee's own file
(:mod:`votecrypto.keyfile`), on the trustee's own machine. The portal is the post office of the ceremony (see
:mod:`relying_party.ceremony.service`) and, once every trustee has confirmed, the holder of the election key, which
the scrutins attached to the ceremony encrypt their ballots to.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from relying_party.models.base import Base, UTCDateTime


class KeyCeremony(Base):
    __tablename__ = "portal_key_ceremony"
    __table_args__ = (CheckConstraint("threshold >= 1 AND threshold <= trustee_count", name="threshold"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The operators' name for it (``portal ceremony … CODE``).
    code: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(300))
    #: Random, bound into every proof of the ceremony: nothing from another ceremony is accepted in this one.
    uid: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    threshold: Mapped[int]
    trustee_count: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    #: The election key ``K = Σ C_j0``, set when every trustee has confirmed their share.
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    trustees: Mapped[list[Trustee]] = relationship(
        back_populates="ceremony", order_by="Trustee.position", cascade="all, delete-orphan"
    )


class Trustee(Base):
    __tablename__ = "portal_trustee"

    ceremony_id: Mapped[int] = mapped_column(ForeignKey("portal_key_ceremony.id", ondelete="CASCADE"), primary_key=True)
    #: The trustee's index, 1 … n (the point at which the shares are evaluated).
    position: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    #: Round 1: the box key shares are sealed to, the polynomial's commitments and their proofs (concatenated).
    box_key: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    commitments: Mapped[bytes | None] = mapped_column(LargeBinary)
    proofs: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: Round 2: the digest of the round-1 set the trustee saw (every trustee must report the same).
    transcript: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    #: Round 3: the trustee checked every share it received and holds ``s_i`` with ``s_i·G`` = this.
    public_share: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    ceremony: Mapped[KeyCeremony] = relationship(back_populates="trustees")


class SealedShare(Base):
    """A share ``f_dealer(recipient)``, sealed to the recipient's box key: the portal cannot read it."""

    __tablename__ = "portal_trustee_share"

    ceremony_id: Mapped[int] = mapped_column(ForeignKey("portal_key_ceremony.id", ondelete="CASCADE"), primary_key=True)
    dealer: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[int] = mapped_column(primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
