"""The voter's pseudonymous reference in the portal's audit log: a keyed hash of the voter identifier.

Auditors receive exports of the log; identifiers are academic e-mail addresses, easy to guess, so an unkeyed hash
would be reversed by hashing a staff list. The key is ``PORTAL_AUDIT_HMAC_KEY`` or, when unset, a key derived from
``PORTAL_SECRET_KEY`` (a portal without the setting still never writes a guessable reference). The application
hands it to its :class:`relying_party.db.Database`, which every writer of the log is given. Whoever holds the key
can compute the reference of a given voter (to answer a complaint, say); the log alone cannot be read back.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

#: Domain separation: the derived key serves nothing else the session secret is used for.
_DERIVATION_LABEL = b"portail-elections/portal/audit-voter-reference/v1"


class AuditKeyMissing(ValueError):
    """Neither PORTAL_AUDIT_HMAC_KEY nor PORTAL_SECRET_KEY is set."""


def audit_key(config: Mapping[str, Any]) -> bytes:
    explicit = config.get("AUDIT_HMAC_KEY")
    if explicit:
        return str(explicit).encode()
    secret = config.get("SECRET_KEY")
    if not secret:
        raise AuditKeyMissing("PORTAL_AUDIT_HMAC_KEY or PORTAL_SECRET_KEY is needed to pseudonymise voters")
    return hmac.new(str(secret).encode(), _DERIVATION_LABEL, hashlib.sha256).digest()


def voter_reference(identifier: str, key: bytes) -> str:
    """64 hexadecimal digits; the identifier is compared in lower case, as the rolls store it."""
    return hmac.new(key, identifier.strip().lower().encode(), hashlib.sha256).hexdigest()
