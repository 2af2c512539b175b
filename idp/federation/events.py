"""Audit events of the federation. Pseudonymous only: the voter's ``subject``, a keyed hash of the provider's
``sub`` (so that an auditor can relate the attempts of one citizen without learning who it is), the purpose,
the step and the reason. Never a token, a name, a birth date or a place.

Written in the caller's session with the keyed hasher it passes, not committed: the route's HTTP code commits
each step through :mod:`idp.federation.journal`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from idp.audit import record
from idp.federation.errors import FederationError
from idp.security.keyed import KeyedHasher


def provider_ref(hasher: KeyedHasher, provider_sub: str) -> str:
    return hasher.hexdigest("audit:fc_sub", provider_sub)[:32]


def record_event(
    session: Session,
    hasher: KeyedHasher,
    type: str,
    *,
    subject: str | None = None,
    provider_sub: str | None = None,
    **data: Any,
) -> None:
    """Record one event of the route in ``session`` (not committed)."""
    if provider_sub is not None:
        data["provider_ref"] = provider_ref(hasher, provider_sub)
    record(session, type, subject=subject, **data)


def record_failure(
    session: Session,
    hasher: KeyedHasher,
    error: FederationError,
    *,
    purpose: str,
    subject: str | None = None,
    provider_sub: str | None = None,
) -> None:
    """Record the ``federation.failed`` event of ``error`` in ``session`` (not committed)."""
    record_event(
        session,
        hasher,
        "federation.failed",
        subject=subject,
        provider_sub=provider_sub,
        purpose=purpose,
        stage=error.stage,
        reason=error.reason,
        code=error.fault.code,
        detail=error.detail[:100],
    )
