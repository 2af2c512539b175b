"""Verification of a log: walk every chain and name the first event altered, deleted or reordered.

Each chain is read in ``seq`` order, streamed (``yield_per``), so memory stays bounded whatever the log's size. An
event is accepted when its ``seq`` follows the previous accepted event's, its ``prev_hash`` is that event's hash (the
genesis hash for seq 1), its hash matches its content, and its type is in the vocabulary. The walk of a chain stops
at its first problem, which is then diagnosed:

* **altered** — the event occupies the place it was written at (it is chained to the previous event) but its
  content, seq or hash no longer match its hash; also an event whose link field was edited, or a copy of an event
  inserted at another position.
* **deleted** — the event written after the last accepted one is nowhere in the chain: a gap in ``seq``, or an
  event whose ``prev_hash`` points at a missing event (including when the later events were renumbered to close
  the gap: their content then matches their hash at their original, higher seq).
* **reordered** — the event written after the last accepted one is still in the chain, at another seq (rows
  swapped or moved). The event named is that displaced event, with the seq it was written at.
* **unknown type** — an intact event whose type the vocabulary does not define (a plugin that is not loaded?).

"First" across chains: each chain's problem is dated by the ``occurred_at`` of the last event verified before it
(the moment up to which that chain is proven intact; a chain damaged at its first event sorts before everything),
and the earliest wins, ties broken by chain number. The damaged event's own ``occurred_at`` is not used because it
may be the very value that was tampered with: post-dating an edit must not push it behind another problem.

Limits (docs/auditors/audit-log.md): deleting the *last* events of a chain leaves a shorter chain that is intact, and
someone who rewrites events *and recomputes every later hash* leaves an intact chain too. Both need a hash kept
outside the database (a sealed checkpoint) to be detected.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, select

from hashchain.event import ChainedEvent
from hashchain.format import GENESIS
from hashchain.heads import chains as chains_of
from hashchain.log import EventLog, Source

#: How far beyond its expected place the verifier looks for the original position of a renumbered event (about
#: 0.7 s per million candidates, spent once per damaged chain). Farther than that it is reported as altered.
RENUMBER_SEARCH = 1_000_000

_DAWN = dt.datetime.min.replace(tzinfo=dt.UTC)


class ProblemKind(enum.StrEnum):
    ALTERED = "altered"
    DELETED = "deleted"
    REORDERED = "reordered"
    UNKNOWN_TYPE = "unknown type"


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    #: The event named: the damaged one; for a deletion, the first event present after the missing ones; for a
    #: reordering, the displaced event.
    event_id: int
    chain: int
    #: The seq the named event is stored at.
    seq: int
    #: A sentence for the operator.
    detail: str
    #: ``occurred_at`` of the last event verified before the problem in its chain (``None``: none was).
    intact_until: dt.datetime | None

    def sort_key(self) -> tuple[dt.datetime, int]:
        return (self.intact_until or _DAWN, self.chain)


@dataclass(frozen=True)
class VerifyReport:
    #: Events verified intact (in every chain, up to its first problem).
    events: int
    chains: int
    #: At most one problem per chain, the first (see the module docstring) first.
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None


def verify(
    source: Source, log: EventLog, *, event_types: Collection[str] | None = None, batch_size: int = 1000
) -> VerifyReport:
    """Verify every chain of ``log``; ``event_types`` defaults to the log's vocabulary (as it is now, plugins'
    types included). From an engine, each chain is read in a short transaction of its own."""
    known = log.vocabulary if event_types is None else event_types
    with log.reading(source) as connection:
        chains = chains_of(connection, log)
    total = 0
    problems: list[Problem] = []
    for chain in chains:
        with log.reading(source) as connection:
            verified, problem = _verify_chain(connection, log, chain, known, batch_size)
        total += verified
        if problem is not None:
            problems.append(problem)
    return VerifyReport(events=total, chains=len(chains), problems=tuple(sorted(problems, key=Problem.sort_key)))


def _expected_after(previous: ChainedEvent | None) -> tuple[int, str]:
    return (previous.seq + 1, previous.hash) if previous else (1, GENESIS)


def _verify_chain(
    connection: Connection, log: EventLog, chain: int, known: Collection[str], batch_size: int
) -> tuple[int, Problem | None]:
    previous: ChainedEvent | None = None
    verified = 0
    suspect: ChainedEvent | None = None
    result = connection.execute(
        select(*log.columns).where(log.c.chain == chain).order_by(log.c.seq).execution_options(yield_per=batch_size)
    )
    try:
        for row in result:
            event = ChainedEvent.from_row(row)
            expected_seq, expected_prev = _expected_after(previous)
            if event.seq == expected_seq and event.prev_hash == expected_prev and event.matches():
                if event.type not in known:
                    return verified, _problem(
                        ProblemKind.UNKNOWN_TYPE,
                        event,
                        previous,
                        f"event id {event.id} (chain {chain}, seq {event.seq}) has a type the vocabulary does "
                        f"not define: {event.type!r}",
                    )
                previous = event
                verified += 1
                continue
            suspect = event
            break
    finally:
        result.close()  # before the diagnosis queries: a streamed result may hold the connection's cursor
    if suspect is None:
        return verified, None
    return verified, _diagnose(connection, log, suspect, previous)


def _problem(kind: ProblemKind, event: ChainedEvent, previous: ChainedEvent | None, detail: str) -> Problem:
    return Problem(
        kind=kind,
        event_id=event.id,
        chain=event.chain,
        seq=event.seq,
        detail=detail,
        intact_until=previous.occurred_at if previous else None,
    )


def _missing(chain: int, first: int, last: int) -> str:
    seqs = f"seq {first}" if first == last else f"seq {first} to {last}"
    return f"chain {chain}: {seqs} deleted"


def _diagnose(connection: Connection, log: EventLog, event: ChainedEvent, previous: ChainedEvent | None) -> Problem:
    """Name what happened at the first event of a chain that does not follow the last verified one."""
    expected_seq, expected_prev = _expected_after(previous)
    chain = event.chain
    where = f"event id {event.id} (chain {chain}, seq {event.seq})"

    if event.prev_hash == expected_prev:
        # Chained right after the last verified event: this is the event written next, in its place in the order.
        if event.matches():
            detail = (
                f"{where} altered: it is chained to seq {expected_seq - 1} but its seq was rewritten, "
                "with a recomputed hash"
            )
        elif event.matches(seq=expected_seq):
            detail = f"{where} altered: its seq was changed (it was written at seq {expected_seq})"
        else:
            detail = f"{where} altered: its content does not match its hash"
        return _problem(ProblemKind.ALTERED, event, previous, detail)

    displaced = _chained_after(connection, log, chain, expected_prev, exclude_id=event.id)
    if displaced is not None:
        # The event written next still exists, elsewhere in the chain: rows were moved or swapped.
        detail = (
            f"event id {displaced.id} (chain {chain}) reordered: written at seq {expected_seq}, "
            f"found at seq {displaced.seq}"
        )
        if not displaced.matches(seq=expected_seq):
            detail += "; its content does not match its hash either"
        return _problem(ProblemKind.REORDERED, displaced, previous, detail)

    # Nothing in the chain is chained to the last verified event: the event written next is gone.
    if event.matches():
        if event.seq > expected_seq:
            detail = _missing(chain, expected_seq, event.seq - 1)
        else:
            detail = (
                f"chain {chain}: the event before seq {event.seq} was deleted, or rewritten with a recomputed "
                f"hash (seq {expected_seq - 1} is not the event that seq {event.seq} is chained to)"
            )
        return _problem(ProblemKind.DELETED, event, previous, detail + f"; next event present: id {event.id}")

    written = event.written_seq(
        seq
        for seq in itertools.chain(
            range(expected_seq + 1, expected_seq + 1 + RENUMBER_SEARCH), range(1, expected_seq + 1)
        )
        if seq != event.seq
    )
    if written is not None and written > expected_seq:
        detail = (
            _missing(chain, expected_seq, written - 1)
            + f", and the later events renumbered (event id {event.id}, written at seq {written}, "
            f"is stored at seq {event.seq})"
        )
        return _problem(ProblemKind.DELETED, event, previous, detail)
    if event.seq > expected_seq:
        detail = (
            _missing(chain, expected_seq, event.seq - 1)
            + f"; the next event present (id {event.id}) does not match its hash either"
        )
        return _problem(ProblemKind.DELETED, event, previous, detail)
    if written is not None:
        detail = f"{where} altered: it is a copy of the event written at seq {written}"
    elif event.matches(seq=expected_seq, prev_hash=expected_prev):
        detail = f"{where} altered: its prev_hash field was changed"
    else:
        detail = f"{where} altered: its content does not match its hash"
    return _problem(ProblemKind.ALTERED, event, previous, detail)


def _chained_after(
    connection: Connection, log: EventLog, chain: int, prev_hash: str, *, exclude_id: int
) -> ChainedEvent | None:
    """The event of ``chain`` whose ``prev_hash`` is ``prev_hash`` (a scan: only run on a damaged chain)."""
    row = connection.execute(
        select(*log.columns)
        .where(log.c.chain == chain, log.c.prev_hash == prev_hash, log.c.id != exclude_id)
        .order_by(log.c.seq)
        .limit(1)
    ).first()
    return ChainedEvent.from_row(row) if row is not None else None
