"""Appending events to the audit log, in the caller's transaction.

The event is written with the change it records (an activation, a queued message): both commit or neither does.
Writers pick one of ``IDP_AUDIT_CHAINS`` chains at random, so concurrent sign-ins rarely touch the same chain head;
two writers on one chain are serialised by the unique ``(chain, seq)`` index and the loser retries in a savepoint.
"""

from __future__ import annotations

import json
import logging
import random
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.audit.chain import GENESIS, canonical_json, event_body, event_hash
from idp.audit.vocabulary import EVENT_TYPES
from idp.models import AuditEvent, utcnow

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 50


def _chain_count() -> int:
    if has_app_context():
        return int(current_app.config.get("AUDIT_CHAINS", 16))
    return 16


def record(
    session: Session,
    type: str,
    *,
    subject: str | None = None,
    client_id: str | None = None,
    chains: int | None = None,
    **data: Any,
) -> AuditEvent:
    """Append one event to the log within ``session``'s transaction (flushed, not committed).

    ``data`` must hold no secret and no personal datum: pseudonymous references and outcomes only.
    """
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown audit event type {type!r}: add it to the vocabulary")
    payload = json.loads(canonical_json(data))  # fail now on values JSON cannot carry
    chain = random.randrange(chains or _chain_count())  # noqa: S311 - load spreading, not security
    for _ in range(MAX_ATTEMPTS):
        head = session.execute(
            select(AuditEvent.seq, AuditEvent.hash)
            .where(AuditEvent.chain == chain)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        ).first()
        seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS)
        occurred_at = utcnow()
        body = event_body(
            chain=chain, seq=seq, occurred_at=occurred_at, type=type, subject=subject, client_id=client_id,
            data=payload,
        )
        event = AuditEvent(
            chain=chain, seq=seq, occurred_at=occurred_at, type=type, subject=subject, client_id=client_id,
            data=canonical_json(payload), prev_hash=prev_hash, hash=event_hash(prev_hash, body),
        )
        try:
            with session.begin_nested():
                session.add(event)
        except IntegrityError:
            logger.debug("audit chain %s: seq %s taken by a concurrent writer, retrying", chain, seq)
            continue
        return event
    raise RuntimeError(f"could not append to audit chain {chain} after {MAX_ATTEMPTS} attempts")
