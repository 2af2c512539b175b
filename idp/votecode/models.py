"""The current vote code of each voter, as a keyed hash only."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base, UTCDateTime, utcnow

#: How a code came to be: the print-shop notices (``idp codes issue``) or a re-issue by the voter (réassort).
ISSUED_BY = ("notice", "reassort")


class VoteCode(Base):
    """One row per voter: issuing a new code overwrites the row, so the previous code stops working at once.

    ``code_hash`` is HMAC-SHA256 (key outside the database, see :mod:`idp.security.keyed`) of the voter's id and
    the canonical code: a fast keyed hash is enough because the code has 64 bits of entropy and the key is not in
    the database, and it keeps the print run of 1.4 million notices to seconds.
    """

    __tablename__ = "vote_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    voter_id: Mapped[int] = mapped_column(ForeignKey("voter.id", ondelete="CASCADE"), unique=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_by: Mapped[str] = mapped_column(String(20))
