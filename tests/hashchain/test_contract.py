"""The contract of :mod:`hashchain` against each application's real audit table, on SQLite and on PostgreSQL: an
append is written in the caller's transaction, chained after its chain's head, without savepoint or retry; the
verifier names the first event altered, removed or reordered; the heads are what a seal signs; the export holds
what its filter says, in the one format the standalone tool checks."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from hashchain import ExportFilter, ProblemKind, export_lines, export_to_file, read_heads, verify
from hashchain.heads import hash_at
from tests.hashchain.conftest import Target, statements

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_audit_export.py"
#: Characters whose JSON spelling every implementation must agree on.
AWKWARD = 'Zoé "guillemets" \\ fin\nde ligne\t\x01 \U0001f5f3 \u2028'


def run_tool(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *args, str(path)], capture_output=True, text=True, timeout=60, check=False
    )


# Appending.


def test_an_append_is_written_in_the_callers_transaction(target: Target) -> None:
    with pytest.raises(RuntimeError, match="the caller's own failure"), target.transaction() as session:
        target.append(session, subject="sujet-fictif-annulé")
        raise RuntimeError("the caller's own failure")
    assert target.events() == []
    with target.transaction() as session:
        written = target.append(session, subject="sujet-fictif", client_id="portail-fictif", motif=AWKWARD, n=3)
    [stored] = target.events()
    assert stored == written and written.id > 0
    assert (stored.seq, stored.subject, stored.client_id) == (1, "sujet-fictif", "portail-fictif")
    assert json.loads(stored.data) == {"motif": AWKWARD, "n": 3}
    assert stored.matches() and verify(target.engine, target.log).ok


def test_the_events_of_one_transaction_go_to_one_chain_in_order(target: Target) -> None:
    with target.transaction() as session:
        first = [target.append(session, chains=16, rang=rank) for rank in range(5)]
    assert {e.chain for e in first} <= set(range(16)) and len({e.chain for e in first}) == 1
    assert [e.seq for e in first] == [1, 2, 3, 4, 5]
    assert [e.prev_hash for e in first[1:]] == [e.hash for e in first[:-1]]
    [then] = target.record(1, chains=1)
    assert then.chain == 0 and then.seq == (6 if first[0].chain == 0 else 1)
    report = verify(target.engine, target.log)
    assert report.ok and report.events == 6


def test_an_append_takes_no_savepoint_and_writes_one_row(target: Target) -> None:
    target.record(1)
    with statements(target) as sent, target.transaction() as session:
        target.append(session, chains=4)
    assert not [s for s in sent if "SAVEPOINT" in s.upper()]
    assert len([s for s in sent if s.startswith(f"INSERT INTO {target.log.name}")]) == 1
    # Uncontended, the first chain tried is free: one lock on PostgreSQL, none on SQLite (its write lock suffices).
    assert len([s for s in sent if "pg_try_advisory_xact_lock" in s]) == (1 if target.postgres else 0)


@pytest.mark.parametrize(
    "bad, error",
    [
        ({"type": "vote.choice"}, ValueError),
        ({"nan": math.nan}, ValueError),
        ({"when": dt.datetime(2027, 3, 14, tzinfo=dt.UTC)}, TypeError),
        ({"chains": 0}, ValueError),
    ],
)
def test_a_bad_event_is_refused_before_anything_is_written(target: Target, bad: dict[str, Any], error: type) -> None:
    arguments = dict(bad)
    with target.transaction() as session:
        with pytest.raises(error):
            target.append(session, type=arguments.pop("type", None), chains=arguments.pop("chains", 1), **arguments)
        target.append(session, rang=1)
    assert [e.seq for e in target.events()] == [1]


def test_data_that_json_reshapes_is_stored_as_it_reads_back(target: Target) -> None:
    """Integer keys sort as numbers but read back as strings ("10" < "9"), tuples as lists: what is stored and
    hashed is the text a reader parses, so the event verifies."""
    with target.transaction() as session:
        target.append(session, **{"paires": {10: "dix", 9: "neuf"}, "suite": (1, 2)})
    [stored] = target.events()
    assert stored.data == '{"paires":{"10":"dix","9":"neuf"},"suite":[1,2]}'
    assert verify(target.engine, target.log).ok


@pytest.mark.parametrize("rolled_back", [True, False])
def test_a_transaction_keeps_its_chain_locked_even_across_savepoints(
    postgres_target: Target, rolled_back: bool
) -> None:
    """PostgreSQL releases an advisory lock taken in a savepoint that is rolled back: the next append of the
    transaction takes it again, so no other writer can append to that chain until the transaction ends. (On SQLite
    the write lock taken at ``BEGIN IMMEDIATE`` covers the whole transaction.)"""
    target = postgres_target

    def free(chain: int) -> bool:
        with target.engine.connect() as other:
            taken = other.execute(
                text("SELECT pg_try_advisory_xact_lock(:space, :chain)"),
                {"space": target.log.lock_space, "chain": chain},
            ).scalar_one()
            other.rollback()
        return bool(taken)

    with target.transaction() as session:
        savepoint = session.begin_nested()
        inside = target.append(session, chains=3, rang=1)
        if rolled_back:
            savepoint.rollback()
            assert free(inside.chain), "the rolled-back savepoint released the lock"
        else:
            savepoint.commit()
        after = target.append(session, chains=3, rang=2)
        assert after.chain == inside.chain
        assert not free(inside.chain)
    assert free(inside.chain)
    assert verify(target.engine, target.log).ok


# Verifying.


@pytest.mark.parametrize("damage", ["data", "type", "hash", "deleted", "swapped", "unknown type"])
def test_verify_names_the_first_damaged_event(target: Target, damage: str) -> None:
    events = target.record(6)
    victim = events[2]
    kinds = {"deleted": ProblemKind.DELETED, "swapped": ProblemKind.REORDERED}
    named = victim.id
    if damage == "data":
        target.change(victim.id, data='{"rang":99}')
    elif damage == "type":
        target.change(victim.id, type=target.other_type)
    elif damage == "hash":
        target.change(victim.id, hash="f" * 64)
    elif damage == "deleted":
        target.remove(victim.id)
        named = events[3].id
    elif damage == "swapped":
        target.change(victim.id, seq=100)
        target.change(events[3].id, seq=3)
        target.change(victim.id, seq=4)  # the event written at seq 3 is named, found at seq 4
    report = verify(
        target.engine, target.log, event_types={target.other_type} if damage == "unknown type" else None, batch_size=2
    )
    problem = report.first_problem
    assert problem is not None
    if damage == "unknown type":
        assert (problem.kind, problem.event_id, problem.seq) == (ProblemKind.UNKNOWN_TYPE, events[0].id, 1)
        return
    assert (problem.kind, problem.event_id, problem.chain) == (kinds.get(damage, ProblemKind.ALTERED), named, 0)
    assert report.events == 2 and problem.intact_until == events[1].occurred_at


def test_verify_reads_from_a_session_too(target: Target) -> None:
    target.record(3)
    with target.transaction() as session:
        report = verify(session, target.log, batch_size=1)
    assert report.ok and (report.events, report.chains) == (3, 1)


# Heads.


def test_heads_are_each_chains_last_event(target: Target) -> None:
    assert read_heads(target.engine, target.log) == []
    for chain_count in (1, 3, 3, 3, 3, 3, 3, 3, 3):
        target.record(1, chains=chain_count)
    events = target.events()
    last = {e.chain: e for e in events}
    heads = read_heads(target.engine, target.log)
    assert [(h.chain, h.seq, h.hash) for h in heads] == [(c, e.seq, e.hash) for c, e in sorted(last.items())]
    with target.engine.connect() as connection:
        assert hash_at(connection, target.log, events[0].chain, 1) == events[0].hash
        assert hash_at(connection, target.log, 0, 99) is None


# Exporting.


def test_export_holds_what_its_filter_says(target: Target, tmp_path: Path) -> None:
    target.record(2, client_id="portail-fictif")
    since = dt.datetime.now(dt.UTC)
    target.record(2, start=2, type=target.other_type)
    until = dt.datetime.now(dt.UTC)
    target.record(2, start=4)
    everything = [json.loads(line) for line in export_lines(target.engine, target.log)]
    assert [(e["chain"], e["seq"]) for e in everything] == [(0, n) for n in range(1, 7)]
    complete = exported(tmp_path, target, ExportFilter())
    assert run_tool(complete).returncode == 0

    def seqs(filters: ExportFilter) -> list[int]:
        return [json.loads(line)["seq"] for line in export_lines(target.engine, target.log, filters, batch_size=1)]

    assert seqs(ExportFilter(since=since, until=until)) == [3, 4]
    assert seqs(ExportFilter(types=(target.other_type,))) == [3, 4]
    assert seqs(ExportFilter(client_id="portail-fictif")) == [1, 2]
    assert seqs(ExportFilter(subject="sujet-fictif-5")) == [6]
    assert ExportFilter().complete and not ExportFilter(subject="x").complete
    filtered = tmp_path / "filtered.jsonl"
    assert export_to_file(target.engine, target.log, filtered, ExportFilter(types=(target.other_type,))) == 2
    assert run_tool(filtered).returncode == 1
    assert run_tool(filtered, "--filtered").returncode == 0


def exported(directory: Path, target: Target, filters: ExportFilter) -> Path:
    """The export written to a file: mode 0600, the same lines as streamed, the count returned."""
    path = directory / f"{target.name}.jsonl"
    count = export_to_file(target.engine, target.log, path, filters)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert path.read_text(encoding="ascii") == "".join(export_lines(target.engine, target.log, filters))
    assert count == len(path.read_text(encoding="ascii").splitlines())
    return path


def test_an_export_in_progress_does_not_hold_up_writers(target: Target) -> None:
    """Half-way through a streamed export (its transaction open), a writer appends and commits at once: the export
    reads without SQLite's write lock (the log's read options), and from its own snapshot."""
    target.record(3)
    lines = export_lines(target.engine, target.log, batch_size=1)
    assert json.loads(next(lines))["seq"] == 1
    with target.transaction() as session:
        target.append(session, rang=99)
    assert [json.loads(line)["seq"] for line in lines] == [2, 3]
    assert len(target.events()) == 4


def test_an_interrupted_export_leaves_no_file(target: Target, tmp_path: Path) -> None:
    target.record(3)
    (tmp_path / "exports").mkdir()
    path = tmp_path / "exports" / "export.jsonl"

    class Stop(Exception):
        pass

    class Failing(ExportFilter):
        def statement(self, log: Any) -> Any:
            raise Stop

    with pytest.raises(Stop):
        export_to_file(target.engine, target.log, path, Failing())
    assert list(path.parent.iterdir()) == []
