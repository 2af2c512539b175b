"""Many writers appending at once to each application's log, on SQLite and on PostgreSQL: no gap, no duplicate, no
event lost, and no retry (an append has no retry loop and no savepoint: a writer that lost a race for a chain's
head would fail on the unique ``(chain, seq)`` index, so every transaction succeeding with exactly one INSERT each
is the proof that none lost one)."""

from __future__ import annotations

import threading
import time
from collections import Counter

from hashchain import verify
from tests.hashchain.conftest import Target, statements

THREADS = 8
PER_THREAD = 15


def test_concurrent_appends_leave_every_chain_whole(target: Target) -> None:
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            start.wait()
            for rank in range(PER_THREAD):
                with target.transaction() as session:
                    target.append(session, chains=2, subject=f"fil-{number}-{rank}")
                    time.sleep(0.002)  # the rest of the request's transaction: the chain stays held meanwhile
                    if rank % 5 == 0:  # some transactions record two events: both on the chain they hold
                        target.append(session, chains=2, subject=f"fil-{number}-{rank}-bis")
        except BaseException as exc:  # surfaced below: a thread's exception would otherwise be lost
            errors.append(exc)

    with statements(target) as sent:
        workers = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
    assert errors == []
    events = target.events()
    expected = THREADS * PER_THREAD * 6 // 5
    assert len(events) == expected
    subjects = Counter(e.subject for e in events)
    assert len(subjects) == expected and set(subjects.values()) == {1}
    per_chain = Counter(e.chain for e in events)
    assert set(per_chain) <= {0, 1}
    for chain, count in per_chain.items():
        assert [e.seq for e in events if e.chain == chain] == list(range(1, count + 1))  # no gap, no duplicate
    pairs = {e.subject: e for e in events}
    for number in range(THREADS):
        for rank in range(0, PER_THREAD, 5):
            first, second = pairs[f"fil-{number}-{rank}"], pairs[f"fil-{number}-{rank}-bis"]
            assert (second.chain, second.seq, second.prev_hash) == (first.chain, first.seq + 1, first.hash)
    inserts = [s for s in sent if s.startswith(f"INSERT INTO {target.log.name}")]
    if target.postgres:
        # Each try of a chain's lock travels with an INSERT that writes only if the lock was obtained (a chain
        # held by another writer: the next chain is tried, nothing was written); the second event of a
        # transaction goes to the chain it holds, and a writer that found every chain held waits for one.
        tries = [s for s in sent if "pg_try_advisory_xact_lock" in s]
        waits = [s for s in sent if "pg_advisory_xact_lock(" in s]
        conditional = [s for s in inserts if "hashchain.locked" in s]
        assert len(conditional) == len(tries) >= expected * 5 // 6 - len(waits)
        assert len(inserts) - len(conditional) == expected // 6 + len(waits)
    else:
        assert len(inserts) == expected
    assert not [s for s in sent if "SAVEPOINT" in s.upper()]
    report = verify(target.engine, target.log)
    assert report.ok and report.events == expected
