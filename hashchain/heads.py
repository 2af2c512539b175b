"""The head of each chain of a log (its last seq and hash), and the event stored at a given position.

Both are index lookups on the unique ``(chain, seq)`` index, whatever the log's size: the list of chains is walked
with ``min(chain) > previous`` (a skip scan written by hand: neither SQLite nor PostgreSQL before 18 skip by
themselves), then each chain's last event is read with ``ORDER BY seq DESC LIMIT 1``. What a seal signs, and what
a checkpoint is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from hashchain.log import EventLog, Source


@dataclass(frozen=True, slots=True, order=True)
class ChainHead:
    chain: int
    seq: int
    hash: str


def chains(connection: Connection, log: EventLog) -> list[int]:
    """The chains that hold at least one event, in increasing order."""
    found: list[int] = []
    previous = -1
    while True:
        chain = connection.execute(select(func.min(log.c.chain)).where(log.c.chain > previous)).scalar()
        if chain is None:
            return found
        found.append(int(chain))
        previous = int(chain)


def last_event(connection: Connection, log: EventLog, chain: int) -> ChainHead | None:
    row = connection.execute(log.head, {"chain": chain}).first()
    return ChainHead(chain, int(row[0]), str(row[1])) if row is not None else None


def read_heads(source: Source, log: EventLog) -> list[ChainHead]:
    """Every chain's last event, in chain order (each read as committed when its statement ran)."""
    with log.reading(source) as connection:
        heads = [last_event(connection, log, chain) for chain in chains(connection, log)]
    return [head for head in heads if head is not None]


def hash_at(connection: Connection, log: EventLog, chain: int, seq: int) -> str | None:
    """The hash stored for the event at ``(chain, seq)``, or None if there is none."""
    value = connection.execute(select(log.c.hash).where(log.c.chain == chain, log.c.seq == seq)).scalar()
    return str(value) if value is not None else None
