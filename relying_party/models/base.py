"""Declarative base of the portal's tables (all prefixed ``portal_``, so they can share a PostgreSQL database).

The naming convention and the aware-UTC column type are the suite's (:mod:`infra.sqltypes`).
"""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from infra.sqltypes import UTCDateTime, naming_metadata, utcnow


class Base(DeclarativeBase):
    metadata = naming_metadata()


__all__ = ["Base", "UTCDateTime", "utcnow"]
