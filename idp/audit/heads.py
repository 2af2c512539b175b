"""The head of each hash chain (its last seq and hash), and the event stored at a given position.

Both are index lookups on the unique ``(chain, seq)`` index, whatever the log's size: the list of chains is walked
with ``min(chain) > previous`` (a skip scan written by hand: neither SQLite nor PostgreSQL before 18 skip by
themselves), then each chain's last event is read with ``ORDER BY seq DESC LIMIT 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from idp.audit.stored import Source, connect
from idp.models import AuditEvent


@dataclass(frozen=True, slots=True, order=True)
class ChainHead:
    chain: int
    seq: int
    hash: str


def chains(connection: Connection) -> list[int]:
    found: list[int] = []
    previous = -1
    while True:
        chain = connection.execute(select(func.min(AuditEvent.chain)).where(AuditEvent.chain > previous)).scalar()
        if chain is None:
            return found
        found.append(int(chain))
        previous = int(chain)


def last_event(connection: Connection, chain: int) -> ChainHead | None:
    row = connection.execute(
        select(AuditEvent.seq, AuditEvent.hash)
        .where(AuditEvent.chain == chain)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    return ChainHead(chain, int(row.seq), str(row.hash)) if row is not None else None


def read_heads(source: Source) -> list[ChainHead]:
    """Every chain's last event, in chain order (each read as committed when its statement ran)."""
    with connect(source) as connection:
        heads = [last_event(connection, chain) for chain in chains(connection)]
    return [head for head in heads if head is not None]


def hash_at(connection: Connection, chain: int, seq: int) -> str | None:
    """The hash stored for the event at ``(chain, seq)``, or None if there is none."""
    value = connection.execute(select(AuditEvent.hash).where(AuditEvent.chain == chain, AuditEvent.seq == seq)).scalar()
    return str(value) if value is not None else None
