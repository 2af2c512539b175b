"""Appending events to the audit log, in the caller's transaction.

The event is written with the change it records (an activation, a queued message): both commit or neither does.

No global lock: events are spread over ``IDP_AUDIT_CHAINS`` chains. On PostgreSQL a writer takes a transaction-level
advisory lock on a chain with ``pg_try_advisory_xact_lock``, trying chains in random order, so it never waits while a
free chain exists and never loses a race (measured by ``benchmarks/audit_append.py``); only when every chain is
held does it wait for one. All the events of one transaction go to the chain it already holds, in order. On SQLite
writers are serialised by the database itself. The unique ``(chain, seq)`` index stays the last line of defence: a
conflict is retried in a savepoint.
"""

from __future__ import annotations

import json
import logging
import random
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from idp.audit.chain import GENESIS, canonical_json, event_body, event_hash
from idp.audit.vocabulary import EVENT_TYPES
from idp.models import AuditEvent, utcnow

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 50
#: Advisory-lock key space of the audit chains (an arbitrary constant: "audi").
_LOCK_SPACE = 0x61756469
_HELD_CHAIN = "idp.audit.held_chain"


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
    chain = _choose_chain(session, chains or _chain_count())
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
            chain=chain,
            seq=seq,
            occurred_at=occurred_at,
            type=type,
            subject=subject,
            client_id=client_id,
            data=payload,
        )
        event = AuditEvent(
            chain=chain,
            seq=seq,
            occurred_at=occurred_at,
            type=type,
            subject=subject,
            client_id=client_id,
            data=canonical_json(payload),
            prev_hash=prev_hash,
            hash=event_hash(prev_hash, body),
        )
        try:
            with session.begin_nested():
                session.add(event)
        except IntegrityError:
            logger.debug("audit chain %s: seq %s taken by a concurrent writer, retrying", chain, seq)
            continue
        return event
    raise RuntimeError(f"could not append to audit chain {chain} after {MAX_ATTEMPTS} attempts")


def _choose_chain(session: Session, count: int) -> int:
    """The chain this transaction appends to (see the module docstring)."""
    held = session.info.get(_HELD_CHAIN)
    if held is not None:
        return int(held)
    order = random.sample(range(count), count)
    chain = order[0]
    if session.get_bind().dialect.name == "postgresql":
        for candidate in order:
            if session.execute(
                text("SELECT pg_try_advisory_xact_lock(:space, :chain)"), {"space": _LOCK_SPACE, "chain": candidate}
            ).scalar_one():
                chain = candidate
                break
        else:
            session.execute(
                text("SELECT pg_advisory_xact_lock(:space, :chain)"), {"space": _LOCK_SPACE, "chain": chain}
            )
    session.info[_HELD_CHAIN] = chain
    return chain


@event.listens_for(Session, "after_transaction_end")
def _forget_chain(session: Session, transaction: SessionTransaction) -> None:
    """The advisory lock ends with the outermost transaction; so does the session's claim on the chain."""
    if transaction.parent is None:
        session.info.pop(_HELD_CHAIN, None)
