"""The portal's durable tables (its own database; nothing shared with the IdP but, possibly, the server)."""

from __future__ import annotations

from relying_party.models.audit import AuditEvent
from relying_party.models.ballot import Ballot, Emargement, PartialDecryption, Tally
from relying_party.models.base import Base, UTCDateTime, utcnow
from relying_party.models.ceremony import KeyCeremony, SealedShare, Trustee
from relying_party.models.election import SCRUTIN_KINDS, Candidate, CandidateList, RollEntry, Scrutin
from relying_party.models.ephemeral import portal_ephemeral
from relying_party.models.outbox import OutboxMessage
from relying_party.models.requests import Complaint, SupportRequest

__all__ = [
    "SCRUTIN_KINDS",
    "AuditEvent",
    "Ballot",
    "Base",
    "Candidate",
    "CandidateList",
    "Complaint",
    "Emargement",
    "KeyCeremony",
    "OutboxMessage",
    "PartialDecryption",
    "RollEntry",
    "Scrutin",
    "SealedShare",
    "SupportRequest",
    "Tally",
    "Trustee",
    "UTCDateTime",
    "portal_ephemeral",
    "utcnow",
]
