"""Audit events of the federation. Pseudonymous only: the voter's ``subject``, a keyed hash of the provider's
``sub`` (so that an auditor can relate the attempts of one citizen without learning who it is), the purpose,
the step and the reason. Never a token, a name, a birth date or a place."""

from __future__ import annotations

from typing import Any

from flask import current_app

from idp.audit import record
from idp.db import get_session
from idp.federation.errors import FederationError
from idp.security.keyed import KeyedHasher


def provider_ref(provider_sub: str) -> str:
    keyed = current_app.extensions["idp.keyed"]
    assert isinstance(keyed, KeyedHasher)
    return keyed.hexdigest("audit:fc_sub", provider_sub)[:32]


def log(type: str, *, subject: str | None = None, provider_sub: str | None = None, **data: Any) -> None:
    """Record one event and commit (each step of the route is an outcome of its own)."""
    db = get_session()
    if provider_sub is not None:
        data["provider_ref"] = provider_ref(provider_sub)
    record(db, type, subject=subject, **data)
    db.commit()


def failed(
    error: FederationError, *, purpose: str, subject: str | None = None, provider_sub: str | None = None
) -> None:
    log(
        "federation.failed",
        subject=subject,
        provider_sub=provider_sub,
        purpose=purpose,
        stage=error.stage,
        reason=error.reason,
        code=error.fault.code,
        detail=error.detail[:100],
    )
