"""Durable data of the identity provider (SQLAlchemy 2 typed models)."""

from __future__ import annotations

from idp.models.audit import AuditEvent, AuditSeal
from idp.models.base import Base, UTCDateTime, utcnow
from idp.models.ephemeral import ephemeral_entry
from idp.models.outbox import DevMessage, OutboxMessage
from idp.models.voter import OneTimeLink, Voter
from idp.oidc.models import (
    OidcAuthorizationCode,
    OidcClient,
    OidcClientSession,
    OidcConsent,
    OidcLogoutNotice,
    OidcSigningKey,
    OidcToken,
)
from idp.votecode.models import VoteCode as VoteCode  # the vote_code table (idp.votecode)

__all__ = [
    "AuditEvent",
    "AuditSeal",
    "Base",
    "DevMessage",
    "OidcAuthorizationCode",
    "OidcClient",
    "OidcClientSession",
    "OidcConsent",
    "OidcLogoutNotice",
    "OidcSigningKey",
    "OidcToken",
    "OneTimeLink",
    "OutboxMessage",
    "UTCDateTime",
    "Voter",
    "ephemeral_entry",
    "utcnow",
]
