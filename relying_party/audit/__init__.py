"""The portal's tamper-evident audit log (docs/auditors/ballot-box.md): its vocabulary, its table and its pseudonyms;
recorded, verified and exported by :mod:`hashchain`, the IdP's code too.

Its own table and chains, in exactly the IdP's hash and export format, so that the same third-party procedure
verifies both logs. The portal never imports ``idp``.
"""

from __future__ import annotations

from relying_party.audit.log import LOG, queue_record, record, record_alone, verify
from relying_party.audit.pseudonym import voter_reference
from relying_party.audit.vocabulary import EVENT_TYPES

__all__ = ["EVENT_TYPES", "LOG", "queue_record", "record", "record_alone", "verify", "voter_reference"]
