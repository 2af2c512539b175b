"""Hash chains of audit events: the format shared by the IdP's audit log and the portal's.

A neutral package (it imports neither ``idp`` nor ``relying_party``) so that both logs hash and export events in
exactly the same way, and the one documented third-party procedure (``tools/verify_audit_export.py``) verifies both.
It holds only pure functions: where events are stored, how writers take turns, and the vocabulary of each log stay
with each application.
"""

from __future__ import annotations

from hashchain.event import ChainedEvent
from hashchain.format import GENESIS, canonical_json, event_body, event_hash, format_instant

__all__ = ["GENESIS", "ChainedEvent", "canonical_json", "event_body", "event_hash", "format_instant"]
