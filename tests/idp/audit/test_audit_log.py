"""The audit log: verification names the first tampered event and its kind; the JSON lines export verifies with the
standalone tool; concurrent writers lose nothing; the ``idp audit`` commands' exit codes."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import importlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, event, func, select, update

from hashchain import ChainedEvent as StoredEvent
from hashchain import ProblemKind, event_hash
from idp.audit import record
from idp.audit.log import COLUMNS, verify
from idp.audit.vocabulary import EVENT_TYPES
from idp.cli import main
from idp.db import get_db
from idp.models import AuditEvent, utcnow

#: The module hashchain.append (the package exports its function under the same name).
appending = importlib.import_module("hashchain.append")
TOOL = Path(__file__).resolve().parents[3] / "tools" / "verify_audit_export.py"

#: Characters whose JSON spelling the standalone tool must reproduce exactly (quote, backslash, control characters,
#: non-ASCII, a character outside the BMP, a line separator that JSON does not escape).
AWKWARD = 'Zoé "guillemets" \\ fin\nde ligne\t\x01 \U0001f5f3 \u2028'


def record_events(app, count, *, chains=1, type="login.succeeded", start=0, **extra):
    for rank in range(start, start + count):
        with get_db(app).transaction() as session:
            record(session, type, subject=f"sujet-fictif-{rank}", chains=chains, rang=rank, **extra)


def events(app, chain=0):
    with get_db(app).transaction() as session:
        rows = session.execute(select(*COLUMNS).where(AuditEvent.chain == chain).order_by(AuditEvent.seq))
        return [StoredEvent.from_row(row) for row in rows]


def change(app, event_id, **values):
    with get_db(app).transaction() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == event_id).values(**values))


def remove(app, event_id):
    with get_db(app).transaction() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == event_id))


def first_problem(app, **kwargs):
    report = verify(get_db(app).engine, **kwargs)
    assert not report.ok
    return report.first_problem


# Verification of an intact log.


def test_recorded_events_verify(app):
    assert verify(get_db(app).engine).ok
    record_events(app, 12, chains=3)
    report = verify(get_db(app).engine)
    with get_db(app).transaction() as session:
        chains = session.scalar(select(func.count(func.distinct(AuditEvent.chain))))
    assert report.ok and report.problems == ()
    assert (report.events, report.chains) == (12, chains)


def test_verify_accepts_a_session_and_streams_in_small_batches(app):
    record_events(app, 7)
    with get_db(app).transaction() as session:
        report = verify(session, batch_size=2)
    assert report.ok and report.events == 7


# Tampering: each kind named, at the right event.


@pytest.mark.parametrize(
    "column, value",
    [
        ("data", '{"rang":99}'),
        ("data", '{"rang": 2}'),  # the same meaning, but not the form the writer stores: the column was edited
        ("type", "logout"),
        ("occurred_at", dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
        ("subject", "sujet-fictif-autre"),
        ("client_id", "portail"),
        ("hash", "f" * 64),
    ],
)
def test_altered_event_is_named(app, column, value):
    record_events(app, 6)
    target = events(app)[2]
    change(app, target.id, **{column: value})
    problem = first_problem(app)
    assert (problem.kind, problem.event_id, problem.chain, problem.seq) == (ProblemKind.ALTERED, target.id, 0, 3)


def test_edited_seq_field_is_altered(app):
    record_events(app, 6)
    target = events(app)[5]
    change(app, target.id, seq=9)  # still after seq 5, chained to it: only the field changed
    problem = first_problem(app)
    assert (problem.kind, problem.event_id, problem.seq) == (ProblemKind.ALTERED, target.id, 9)
    assert "written at seq 6" in problem.detail


def test_edited_link_is_altered(app):
    record_events(app, 6)
    target = events(app)[3]
    change(app, target.id, prev_hash="a" * 64)
    problem = first_problem(app)
    assert (problem.kind, problem.event_id) == (ProblemKind.ALTERED, target.id)
    assert "prev_hash" in problem.detail


def test_deleted_middle_event_is_named(app):
    record_events(app, 6)
    rows = events(app)
    remove(app, rows[2].id)
    problem = first_problem(app)
    assert (problem.kind, problem.event_id, problem.chain, problem.seq) == (ProblemKind.DELETED, rows[3].id, 0, 4)
    assert "seq 3 deleted" in problem.detail
    assert problem.intact_until == rows[1].occurred_at


def test_deleted_first_event_is_named(app):
    record_events(app, 3)
    rows = events(app)
    remove(app, rows[0].id)
    problem = first_problem(app)
    assert (problem.kind, problem.event_id, problem.seq) == (ProblemKind.DELETED, rows[1].id, 2)
    assert "seq 1 deleted" in problem.detail and problem.intact_until is None


def test_deletion_hidden_by_renumbering_is_still_a_deletion(app):
    record_events(app, 6)
    rows = events(app)
    remove(app, rows[2].id)
    for row in rows[3:]:  # close the gap, in increasing order so the unique (chain, seq) holds at each step
        change(app, row.id, seq=row.seq - 1)
    problem = first_problem(app)
    assert (problem.kind, problem.event_id, problem.seq) == (ProblemKind.DELETED, rows[3].id, 3)
    assert "seq 3 deleted" in problem.detail and "renumbered" in problem.detail


@pytest.mark.parametrize("first, second", [(2, 3), (1, 5), (4, 5)], ids=["adjacent", "distant", "at-the-end"])
def test_swapped_events_are_reordered(app, first, second):
    record_events(app, 5)
    rows = {row.seq: row for row in events(app)}
    a, b = rows[first], rows[second]
    change(app, a.id, seq=-1)
    change(app, b.id, seq=first)
    change(app, a.id, seq=second)
    problem = first_problem(app)
    # The event written at the first disturbed position is found elsewhere: that displaced event is named.
    assert (problem.kind, problem.event_id, problem.seq) == (ProblemKind.REORDERED, a.id, second)
    assert f"written at seq {first}, found at seq {second}" in problem.detail


def test_event_moved_to_the_end_is_reordered_not_deleted(app):
    record_events(app, 5)
    target = events(app)[1]
    change(app, target.id, seq=50)
    problem = first_problem(app)
    assert (problem.kind, problem.event_id, problem.seq) == (ProblemKind.REORDERED, target.id, 50)


def test_event_rewritten_with_a_recomputed_hash_breaks_the_next_link(app):
    record_events(app, 5)
    rows = events(app)
    forged = dataclasses.replace(rows[2], data='{"rang":42}')
    body = forged.body()
    assert body is not None
    change(app, forged.id, data=forged.data, hash=event_hash(forged.prev_hash, body))
    problem = first_problem(app)
    # The rewritten event is self-consistent; the next one is chained to the event that is gone.
    assert (problem.kind, problem.event_id, problem.seq) == (ProblemKind.DELETED, rows[3].id, 4)
    assert "recomputed hash" in problem.detail


def test_unknown_event_type_is_named(app):
    record_events(app, 2)
    record_events(app, 1, type="logout", start=2)
    record_events(app, 1, start=3)
    rows = events(app)
    problem = first_problem(app, event_types=set(EVENT_TYPES) - {"logout"})
    assert (problem.kind, problem.event_id, problem.seq) == (ProblemKind.UNKNOWN_TYPE, rows[2].id, 3)


def test_earliest_problem_across_chains_is_named_first_even_if_post_dated(app):
    for rank in range(200):
        record_events(app, 1, chains=2, start=rank)
        if min(len(events(app, 0)), len(events(app, 1))) >= 3:
            break
    rows = {chain: events(app, chain) for chain in (0, 1)}
    early = 0 if rows[0][0].occurred_at < rows[1][0].occurred_at else 1
    late = 1 - early
    # The earliest damage, post-dated by the tamperer, and a later damage in the other chain.
    change(app, rows[early][1].id, occurred_at=utcnow() + dt.timedelta(days=365))
    change(app, rows[late][-1].id, data='{"rang":-1}')
    report = verify(get_db(app).engine)
    assert [p.event_id for p in report.problems] == [rows[early][1].id, rows[late][-1].id]
    assert report.first_problem.intact_until == rows[early][0].occurred_at


def test_deleting_the_last_events_of_a_chain_is_not_detectable_without_a_seal(app):
    """The documented limit: a chain cut short is a valid shorter chain (a later issue adds sealed checkpoints)."""
    record_events(app, 4)
    remove(app, events(app)[-1].id)
    assert verify(get_db(app).engine).ok


# Export and the standalone verification tool.


def run_tool(path, *flags):
    return subprocess.run(
        [sys.executable, str(TOOL), *flags, str(path)], capture_output=True, text=True, timeout=60, check=False
    )


def cli(app, *args):
    return app.test_cli_runner().invoke(main, list(args))


def test_export_verifies_with_the_standalone_tool(app, tmp_path):
    for rank in range(6):
        with get_db(app).transaction() as session:
            record(
                session,
                "login.succeeded",
                subject=AWKWARD[: 20 + rank],
                client_id=AWKWARD,
                chains=2,
                note=AWKWARD,
                rang=rank,
                ratio=rank / 3,
            )
    target = tmp_path / "audit.jsonl"
    result = cli(app, "audit", "export", "--output", str(target))
    assert result.exit_code == 0, result.output
    lines = target.read_text(encoding="ascii").splitlines()
    assert len(lines) == 6
    stored = {(e.chain, e.seq): e for chain in (0, 1) for e in events(app, chain)}
    for line in lines:
        event = json.loads(line)
        assert list(event) == [
            "chain",
            "seq",
            "occurred_at",
            "type",
            "subject",
            "client_id",
            "data",
            "prev_hash",
            "hash",
        ]
        assert event["hash"] == stored[event["chain"], event["seq"]].hash
    checked = run_tool(target, "--heads")
    assert checked.returncode == 0, checked.stderr
    assert "export intact: 6 events in" in checked.stdout


def test_standalone_tool_uses_only_the_standard_library():
    tree = ast.parse(TOOL.read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported and imported <= set(sys.stdlib_module_names) | {"__future__"}


def tampered(lines, how):
    lines = list(lines)
    if how == "data":
        event = json.loads(lines[2])
        event["data"] = event["data"].replace('"rang":2', '"rang":7')
        lines[2] = json.dumps(event)
    elif how == "subject":
        event = json.loads(lines[2])
        event["subject"] = "sujet-fictif-autre"
        lines[2] = json.dumps(event)
    elif how == "deleted":
        del lines[2]
    elif how == "swapped":
        lines[2], lines[3] = lines[3], lines[2]
    elif how == "duplicate-key":
        lines[2] = lines[2][:-1] + ',"data":"{}"}'
    return lines


@pytest.mark.parametrize(
    "how, kind",
    [
        ("data", "altered"),
        ("subject", "altered"),
        ("deleted", "deleted"),
        ("swapped", "reordered"),
        ("duplicate-key", "malformed"),
    ],
)
def test_standalone_tool_detects_a_tampered_export(app, tmp_path, how, kind):
    record_events(app, 5)
    export = tmp_path / "audit.jsonl"
    assert cli(app, "audit", "export", "--output", str(export)).exit_code == 0
    lines = export.read_text(encoding="ascii").splitlines()
    assert run_tool(export).returncode == 0
    export.write_text("\n".join(tampered(lines, how)) + "\n", encoding="ascii")
    checked = run_tool(export)
    assert checked.returncode == 1
    assert f": {kind}:" in checked.stderr and "line 3" in checked.stderr


def test_filtered_export_proves_each_event_but_not_completeness(app, tmp_path):
    for rank in range(6):
        record_events(app, 1, type="logout" if rank % 2 else "login.succeeded", start=rank)
    export = tmp_path / "logouts.jsonl"
    result = cli(app, "audit", "export", "--type", "logout", "--output", str(export))
    assert result.exit_code == 0 and "filtered export" in result.output
    assert [json.loads(line)["type"] for line in export.read_text().splitlines()] == ["logout"] * 3
    strict = run_tool(export)
    assert strict.returncode == 1 and "deleted" in strict.stderr
    lenient = run_tool(export, "--filtered")
    assert lenient.returncode == 0, lenient.stderr
    assert "3 events in 1 chains: every event matches its hash; 0 links" in lenient.stdout
    assert "2 gaps not verifiable" in lenient.stdout


def test_export_time_window_is_half_open(app):
    record_events(app, 2)
    since = utcnow()
    record_events(app, 2, start=2)
    until = utcnow()
    record_events(app, 2, start=4)
    inside = [e for e in events(app) if since <= e.occurred_at < until]
    result = cli(
        app,
        "audit",
        "export",
        "--since",
        since.isoformat(),
        "--until",
        until.astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat(),
    )
    assert result.exit_code == 0
    exported = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["seq"] for e in exported] == [e.seq for e in inside] == [3, 4]
    # An event exactly at --until is left for the next window, an event exactly at --since is included.
    at_edge = cli(
        app,
        "audit",
        "export",
        "--since",
        inside[0].occurred_at.isoformat(),
        "--until",
        inside[1].occurred_at.isoformat().replace("+00:00", "Z"),
    )
    assert [json.loads(line)["seq"] for line in at_edge.stdout.splitlines()] == [3]


# Concurrency: several writers, few chains, no lock beyond a chain head.


def test_concurrent_appends_lose_nothing(make_app, backend):
    app = make_app(AUDIT_CHAINS=2)  # the number of chains is bound to the database's sessions when the app is built
    threads, per_thread = 8, 25
    start = threading.Barrier(threads)
    errors = []

    def writer(number):
        try:
            with app.app_context():
                start.wait()
                for rank in range(per_thread):
                    with get_db(app).transaction() as session:
                        record(session, "login.succeeded", subject=f"fil-{number}-{rank}")
                        time.sleep(0.002)  # the rest of a sign-in: the chain head stays contended
        except Exception as exc:  # surfaced below: a thread's exception would otherwise be lost
            errors.append(exc)

    inserts: list[str] = []

    def count_inserts(conn, cursor, statement, parameters, context, many):
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENT"):
            inserts.append(statement)

    pipelined: list[str] = []  # on PostgreSQL, what the append sends through psycopg's pipeline
    send = appending.send

    def count_sent(cursor, sql, params):
        pipelined.append(sql)
        send(cursor, sql, params)

    event.listen(get_db(app).engine, "before_cursor_execute", count_inserts)
    appending.send = count_sent
    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    appending.send = send
    event.remove(get_db(app).engine, "before_cursor_execute", count_inserts)
    assert not any(worker.is_alive() for worker in workers)
    assert errors == []
    with get_db(app).transaction() as session:
        subjects = list(session.scalars(select(AuditEvent.subject)))
        duplicates = session.execute(
            select(AuditEvent.chain, AuditEvent.seq).group_by(AuditEvent.chain, AuditEvent.seq).having(func.count() > 1)
        ).all()
        per_chain = dict(session.execute(select(AuditEvent.chain, func.count()).group_by(AuditEvent.chain)).all())
        max_seq = dict(
            session.execute(select(AuditEvent.chain, func.max(AuditEvent.seq)).group_by(AuditEvent.chain)).all()
        )
    assert sorted(subjects) == sorted(f"fil-{n}-{r}" for n in range(threads) for r in range(per_thread))
    assert duplicates == []
    assert set(per_chain) <= {0, 1} and per_chain == max_seq  # each chain numbered 1..n without a hole
    report = verify(get_db(app).engine)
    assert report.ok and report.events == threads * per_thread
    # Writers take a free chain (advisory lock on PostgreSQL, the database lock on SQLite): none loses a race, so
    # every event is inserted once, none tried again after a conflict. On PostgreSQL each try of a chain's lock
    # travels with an INSERT that writes only if the lock was obtained; a writer that found both chains held waits
    # for one, then inserts.
    if backend.name == "postgresql":
        tries = [sql for sql in pipelined if "pg_try_advisory_xact_lock" in sql]
        waits = [sql for sql in pipelined if "pg_advisory_xact_lock(" in sql]
        appends = [sql for sql in pipelined if sql.startswith("INSERT INTO audit_event")]
        conditional = [sql for sql in appends if "hashchain.locked" in sql]
        unconditional = [sql for sql in appends if "hashchain.locked" not in sql]
        assert inserts == [] and len(conditional) == len(tries) and len(unconditional) == len(waits)
        assert len(tries) + len(waits) >= threads * per_thread
    else:
        assert len(inserts) == threads * per_thread


# The commands.


def test_cli_verify_exit_codes(app):
    record_events(app, 5)
    intact = cli(app, "audit", "verify")
    assert intact.exit_code == 0
    assert intact.stdout.strip() == "audit log intact: 5 events in 1 chains"
    target = events(app)[3]
    change(app, target.id, data='{"rang":0}')
    damaged = cli(app, "audit", "verify")
    assert damaged.exit_code == 1
    assert f"event id {target.id} (chain 0, seq 4) altered" in damaged.stderr
    assert "chain 0 is intact up to" in damaged.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--since", "hier"],
        ["--until", "2026-13-01"],
        ["--type", "login.inconnu"],
        ["--since", "2026-03-02", "--until", "2026-03-01"],
    ],
)
def test_cli_export_refuses_bad_options(app, args):
    assert cli(app, "audit", "export", *args).exit_code == 2
