"""The portal's tamper-evident audit log: recording, verification, export (docs/auditors/ballot-box.md).

Its own table and chains, in exactly the IdP's hash and export format (:mod:`hashchain`), so that the same
third-party procedure verifies both logs. The portal never imports ``idp``.
"""

from __future__ import annotations

from relying_party.audit.log import record, record_alone
from relying_party.audit.pseudonym import voter_reference
from relying_party.audit.vocabulary import EVENT_TYPES

__all__ = ["EVENT_TYPES", "record", "record_alone", "voter_reference"]
