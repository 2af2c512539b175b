"""Appending events to the audit log, in the caller's transaction.

The event is written with the change it records (an activation, a queued message): both commit or neither does.

No global lock: events are spread over ``IDP_AUDIT_CHAINS`` chains. On PostgreSQL a writer takes a transaction-level
advisory lock on a chain with ``pg_try_advisory_xact_lock``, trying chains in random order, so it never waits while a
free chain exists (measured by ``benchmarks/audit_append.py``); only when every chain is held does it wait for one.
All the events of one transaction go to the chain it already holds, in order. On SQLite writers are serialised by the
database itself. Either way the transaction owns its chain's head until it ends, so an append needs no savepoint and
no retry; the unique ``(chain, seq)`` index remains the last line of defence.
"""

from __future__ import annotations

import json
import random
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session, SessionTransaction

from idp.audit.chain import GENESIS, canonical_json, event_body, event_hash
from idp.audit.vocabulary import EVENT_TYPES
from idp.models import AuditEvent, utcnow

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
    # No savepoint and no retry: this transaction owns the chain (the advisory lock on PostgreSQL, the database lock
    # on SQLite) until it ends, so no other writer can take this seq. The unique (chain, seq) index stays as the
    # guard: a writer bypassing record() would make this transaction fail rather than fork the chain.
    session.add(event)
    return event


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
