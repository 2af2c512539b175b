"""Declarative base shared by every durable table of the identity provider (its own metadata and migrations).

The naming convention and the aware-UTC column type are the suite's (:mod:`infra.sqltypes`).
"""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from infra.sqltypes import UTCDateTime, naming_metadata, utcnow


class Base(DeclarativeBase):
    metadata = naming_metadata()


__all__ = ["Base", "UTCDateTime", "utcnow"]
