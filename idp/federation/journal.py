"""The federation's audit, per request: each step of the route (started, failed, matched, signed in, signed out)
is an outcome of its own, so the HTTP code — :mod:`~idp.federation.flow`, :mod:`~idp.federation.signin`,
:mod:`~idp.federation.logout` — records it with the request's session and the application's keyed hasher and
commits it at once. The writing itself is :mod:`idp.federation.events`, which neither fetches nor commits.
"""

from __future__ import annotations

from typing import Any

from idp.db import get_session
from idp.federation import events
from idp.federation.errors import FederationError
from idp.web import keyed_hasher


def log(type: str, *, subject: str | None = None, provider_sub: str | None = None, **data: Any) -> None:
    """Record one event of the route and commit it."""
    db = get_session()
    events.record_event(db, keyed_hasher(), type, subject=subject, provider_sub=provider_sub, **data)
    db.commit()


def failed(
    error: FederationError, *, purpose: str, subject: str | None = None, provider_sub: str | None = None
) -> None:
    """Record the failure of the route and commit it."""
    db = get_session()
    events.record_failure(db, keyed_hasher(), error, purpose=purpose, subject=subject, provider_sub=provider_sub)
    db.commit()
