"""The provider's transaction rule: one commit per request, at the endpoint boundary.

The provider's services (:mod:`~idp.oidc.codes`, :mod:`~idp.oidc.tokens`, :mod:`~idp.oidc.authorization`, …) and
the Authlib callbacks that call them write in the request's session and never commit or roll back. The view builds
its whole answer, Authlib's included, inside :func:`one_transaction`, which then ends the transaction once:

* an answer below 400 (a token, a redirect to the client, even one carrying an OAuth error such as
  ``access_denied``, whose refusal is recorded) commits everything the request wrote;
* an answer of 400 or more (``invalid_grant``, ``invalid_client``, an error page) or an exception rolls it all back:
  a refused request leaves nothing behind...
* ...except what a callback declared with :func:`keep_even_if_refused`: the consequence of a refusal that must be
  durable although the request fails, such as the revocation of a grant whose code or refresh token was presented
  again. It runs after the rollback, in a transaction of its own, and is committed (or, when the request succeeds
  after all, in the request's transaction before its commit). Because the rollback comes first, nothing else the
  request wrote is committed with it.

A sign-in screen that resumes an authorization request in its own answer hands its own write (the audit event of
the secret it checked) to :func:`one_transaction` as ``first``: written before the answer is built, in the same
transaction as the code it leads to, and kept like the writes above (written again on its own after a rollback),
so it is committed exactly once whatever the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from flask import g
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from idp.db import begin_writes, get_session, read_until_write

T = TypeVar("T")

#: A write that does not depend on the request's answer; it receives the request's session and does not commit.
KeptWrite = Callable[[Session], None]

_G_KEPT = "idp.oidc.kept_writes"

logger = logging.getLogger(__name__)


def keep_even_if_refused(write: KeptWrite) -> None:
    """Have ``write`` committed whatever the request answers (see the module's documentation)."""
    kept: list[KeptWrite] = g.setdefault(_G_KEPT, [])
    kept.append(write)


def status_of(outcome: object) -> int:
    """The HTTP status of what a view returns: a response, ``(body, status)``, or None (Authlib's "no response of
    mine": the view answers 200)."""
    if isinstance(outcome, Response):
        return outcome.status_code
    if isinstance(outcome, tuple) and len(outcome) >= 2 and isinstance(outcome[1], int):
        return outcome[1]
    return 200


def one_transaction(build: Callable[[], T], *, first: KeptWrite | None = None, reads_first: bool = False) -> T:
    """Build the request's answer, then commit what it wrote, or roll it back if the answer is an error.

    ``first``: a write made before the answer is built, in its transaction, and committed whatever the answer: after
    a rollback (an error answer, or an exception, which is then raised again) it is written again on its own.

    ``reads_first``: the answer's reads run outside any transaction (:func:`infra.db.read_until_write`) until
    ``build`` asks for the session it writes in (:func:`writing_session`); its writes are then in one transaction,
    ended here as above. An answer that wrote nothing costs no ``BEGIN`` and no ``COMMIT``/``ROLLBACK``.
    """
    if reads_first and first is None:
        read_until_write()
    session = get_session()
    g.pop(_G_KEPT, None)
    try:
        if first is not None:
            first(session)
        outcome = build()
    except BaseException:
        g.pop(_G_KEPT, None)
        session = get_session()
        session.rollback()
        if first is not None:
            _write_alone(session, first)
        raise
    kept: list[KeptWrite] = g.pop(_G_KEPT, [])
    session = writing_session() if kept else get_session()
    if status_of(outcome) >= 400:
        session.rollback()
        if first is not None:
            kept.insert(0, first)
        if not kept:
            return outcome
    for write in kept:
        write(session)
    session.commit()
    return outcome


def writing_session() -> Session:
    """The request's session to write in: in :func:`one_transaction` with ``reads_first``, the reads' session gives
    way to one whose writes are in the request's transaction (see :func:`infra.db.begin_writes`)."""
    return begin_writes()


def _write_alone(session: Session, write: KeptWrite) -> None:
    """``write`` committed in a transaction of its own, while an exception is on its way up: a failure here (the
    database gone) is rolled back and left to that exception, which is the one raised."""
    try:
        write(session)
        session.commit()
    except Exception:
        logger.exception("a write kept whatever the answer could not be committed after the request failed")
        session.rollback()
