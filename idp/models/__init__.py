"""Durable data of the identity provider shared by its features (SQLAlchemy 2 typed models).

The bottom layer of the IdP: it imports none of the features. A feature's own tables live beside it
(:mod:`idp.oidc.models`, :mod:`idp.votecode.models`); :mod:`idp.schema` gathers every table for the migrations.
"""

from __future__ import annotations

from idp.models.audit import AuditEvent, AuditSeal
from idp.models.base import Base, UTCDateTime, utcnow
from idp.models.ephemeral import ephemeral_entry
from idp.models.outbox import DevMessage, OutboxMessage
from idp.models.voter import OneTimeLink, Voter

__all__ = [
    "AuditEvent",
    "AuditSeal",
    "Base",
    "DevMessage",
    "OneTimeLink",
    "OutboxMessage",
    "UTCDateTime",
    "Voter",
    "ephemeral_entry",
    "utcnow",
]
