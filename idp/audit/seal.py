"""``idp audit seal``: sign a checkpoint of the log's head, keep it in ``audit_seal``, and audit the sealing.

The heads are read first, then the ``audit.sealed`` event is appended (it lands after the head of its chain, so the
next seal covers it). The counter is one more than the last stored seal's, and ``previous`` is that seal's digest;
the unique counter makes a concurrent second seal fail instead of forking the sequence.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashchain import Source, append, format_instant, read_heads
from idp.audit.checkpoint_format import Checkpoint, parse, sign
from idp.audit.log import LOG, chain_count
from idp.models import AuditSeal, utcnow


def last_seal(session: Session) -> AuditSeal | None:
    return session.execute(select(AuditSeal).order_by(AuditSeal.counter.desc()).limit(1)).scalar_one_or_none()


def seal(session: Session, private_key: Ed25519PrivateKey, *, issuer: str) -> Checkpoint:
    """Seal the log's current head in ``session``'s transaction (flushed, not committed)."""
    previous = last_seal(session)
    sealed_at = utcnow()
    checkpoint = sign(
        private_key,
        counter=previous.counter + 1 if previous else 1,
        sealed_at=format_instant(sealed_at),
        issuer=issuer,
        heads=read_heads(session, LOG),
        previous=parse(previous.document).digest if previous else None,
    )
    session.add(
        AuditSeal(
            counter=checkpoint.counter, sealed_at=sealed_at, key_id=checkpoint.key_id, document=checkpoint.document()
        )
    )
    # Not through ``record``, whose ``chains`` keyword is the number of chains to spread over: here it is a detail.
    append(
        session,
        LOG,
        "audit.sealed",
        chains=chain_count(session),
        data={
            "counter": checkpoint.counter,
            "chains": len(checkpoint.heads),
            "events": sum(head.seq for head in checkpoint.heads),
            "key_id": checkpoint.key_id,
        },
    )
    return checkpoint


def stored_documents(source: Source) -> list[tuple[int, str]]:
    """(counter, document) of the seals kept in the database, in counter order (read-only)."""
    with LOG.reading(source) as connection:
        rows = connection.execute(select(AuditSeal.counter, AuditSeal.document).order_by(AuditSeal.counter)).all()
    return [(int(row.counter), str(row.document)) for row in rows]
