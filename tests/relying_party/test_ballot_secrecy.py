"""Ballot secrecy, proved on the schema and on the rows of both back ends.

The ballot table holds no voter reference, no time, nothing numbered; on SQLite it has no rowid; after mixing
(which every tally does) neither PostgreSQL's transaction ids (xmin) nor the physical order (ctid, SQLite's
natural order) nor any column orders ballots as they were cast or links one to an émargement.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Date, DateTime, Integer, Time, inspect, text
from sqlalchemy.exc import OperationalError

from relying_party.db import Database, get_db
from relying_party.models import utcnow
from relying_party.voting.mixing import mix
from tests.relying_party.helpers import list_ids, load, scrutin_entry, scrutin_id
from tests.relying_party.voting import cast_choice, ensure_key

VOTERS = {f"electeur.{n:02d}@ac-exemple.fr": f"M. ÉLECTEUR {n:02d}" for n in range(12)}


def _cast_all(app: Flask) -> tuple[list[str], list[dt.datetime]]:
    """Every voter votes, in a known order; return the receipts and times in casting order."""
    now = utcnow()
    load(
        app,
        {
            "scrutins": [
                scrutin_entry("SECRET", now - dt.timedelta(days=1), now + dt.timedelta(days=1), lists=3, roll=VOTERS)
            ]
        },
    )
    ensure_key(app, "SECRET")
    target, lists = scrutin_id(app, "SECRET"), list_ids(app, "SECRET")
    receipts, times = [], []
    for index, identifier in enumerate(VOTERS):
        cast_at = now + dt.timedelta(seconds=index)
        choice = [*lists, None][index % 4]
        receipts.append(
            cast_choice(
                app, scrutin_id=target, voter_identifier=identifier, candidate_list_id=choice, now=cast_at
            ).tracking_code.hex()
        )
        times.append(cast_at)
    return receipts, times


def test_ballot_table_schema_holds_nothing_about_voters_or_time(app: Flask) -> None:
    inspector = inspect(get_db(app).engine)
    columns = {column["name"]: column for column in inspector.get_columns("portal_ballot")}
    # Ciphertexts and proofs only: no choice, no voter, no time.
    assert set(columns) == {"tracking_code", "scrutin_id", "ciphertexts", "proofs", "mixed"}
    for column in columns.values():
        assert not isinstance(column["type"], DateTime | Date | Time), column["name"]
    assert inspector.get_pk_constraint("portal_ballot")["constrained_columns"] == ["tracking_code"]
    assert not isinstance(columns["tracking_code"]["type"], Integer), "an integer key would number ballots"
    referred = {fk["referred_table"] for fk in inspector.get_foreign_keys("portal_ballot")}
    assert referred == {"portal_scrutin"}
    for table in inspector.get_table_names():
        for fk in inspector.get_foreign_keys(table):
            assert fk["referred_table"] != "portal_ballot", f"{table} refers to a ballot"
    # The émargement side: one vote per voter and scrutin is the database's primary key.
    assert inspector.get_pk_constraint("portal_emargement")["constrained_columns"] == ["scrutin_id", "voter_identifier"]


def test_rows_hold_no_voter_and_no_time(app: Flask) -> None:
    receipts, times = _cast_all(app)
    with get_db(app).engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM portal_ballot")).all()
    assert len(rows) == len(VOTERS)
    forbidden = set(VOTERS) | {t.isoformat() for t in times} | {t.replace(tzinfo=None).isoformat(" ") for t in times}
    for row in rows:
        for value in row:
            raw = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
            assert not any(item.encode() in raw for item in forbidden)
    assert sorted(bytes(row.tracking_code).hex() for row in rows) == sorted(receipts)


def test_no_order_of_the_ballot_box_follows_the_order_of_casting(app: Flask) -> None:
    receipts, _ = _cast_all(app)
    mix(get_db(app))
    database = get_db(app)
    physical = "ctid" if not database.is_sqlite else None
    with database.engine.connect() as conn:
        natural = [bytes(r[0]).hex() for r in conn.execute(text("SELECT tracking_code FROM portal_ballot"))]
        orders = [natural]
        if physical:
            orders.append(
                [bytes(r[0]).hex() for r in conn.execute(text("SELECT tracking_code FROM portal_ballot ORDER BY ctid"))]
            )
    for order in orders:
        assert sorted(order) == sorted(receipts)
        assert order != receipts, "ballots come out in the order they were cast"


def test_storage_numbers_nothing(app: Flask) -> None:
    """SQLite: no rowid. PostgreSQL: the transaction ids shared with the émargement are gone once mixed."""
    database = get_db(app)
    if database.is_sqlite:
        with database.engine.connect() as conn:
            sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'portal_ballot'")).scalar_one()
            assert "WITHOUT ROWID" in sql
            with pytest.raises(OperationalError, match="rowid"):
                conn.execute(text("SELECT rowid FROM portal_ballot"))
        return
    _cast_all(app)
    query = text("SELECT count(*) FROM portal_ballot b JOIN portal_emargement e ON b.xmin::text = e.xmin::text")
    with database.engine.connect() as conn:
        # The linkage mixing exists to break: each ballot shares its émargement's transaction id.
        assert conn.execute(query).scalar_one() == len(VOTERS)
    assert mix(database) == len(VOTERS)
    with database.engine.connect() as conn:
        assert conn.execute(query).scalar_one() == 0
        assert conn.execute(text("SELECT count(DISTINCT xmin::text) FROM portal_ballot")).scalar_one() == 1
        assert conn.execute(text("SELECT bool_and(mixed) FROM portal_ballot")).scalar_one() is True


def test_database_files_keep_no_trace_of_the_casting_order_once_mixed(app: Flask) -> None:
    """What a copy of the database's files shows, before and after the mix, on each back end."""
    database = get_db(app)
    if database.is_sqlite:
        _sqlite_files(app, database)
    else:
        _postgresql_files(app, database)


def _sqlite_files(app: Flask, database: Database) -> None:
    """Before the mix the write-ahead log holds the ballots' pages as they were committed, with the émargements;
    after it the log is empty, and the connections zero what they delete."""
    main_file = Path(database.engine.url.database or "")
    wal = main_file.with_name(main_file.name + "-wal")
    receipts, _ = _cast_all(app)
    logged = wal.read_bytes()
    # What a copy taken now shows: each ballot's page image committed with its voter's émargement.
    assert all(bytes.fromhex(r) in logged for r in receipts) and all(v.encode() in logged for v in VOTERS)
    assert mix(database) == len(VOTERS)
    assert wal.stat().st_size == 0
    # Rows the mix deletes are overwritten with zeros, not left in free space.
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar_one() == 1


def _postgresql_files(app: Flask, database: Database) -> None:
    """The table's pages, read as they are on disk (pageinspect), and the write-ahead log (pg_walinspect).

    Before the mix each ballot's tuple carries its émargement's transaction id; after the mix and a VACUUM (which
    autovacuum runs on its own) no tuple does, and after a VACUUM FULL no byte of the table's pages holds any of
    those ids (a plain VACUUM leaves the freed space as it was). The write-ahead log is another matter: it keeps
    each ballot's insertion in the transaction of its émargement until PostgreSQL recycles the segment (after the
    next checkpoints; an archive or a replica's copy keeps it as long as they are kept), and no mix can rewrite it.
    That is the link voter ↔ ciphertext, never a choice (the ciphertext decrypts only with k trustees, who decrypt
    only the totals): docs/auditors/ballot-box.md.
    """
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # The table's files written anew, empty: the suite empties its tables between tests by deleting rows, whose
        # dead tuples would stay in the pages read below until a vacuum.
        conn.execute(text("VACUUM FULL portal_ballot"))
    with database.engine.connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_walinspect"))
        conn.commit()
        start = conn.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar_one()
    _cast_all(app)
    with database.engine.connect() as conn:
        end = conn.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar_one()
        # pg_walinspect reads only what is flushed; the WAL writer flushes within its delay (200 ms by default).
        deadline = time.monotonic() + 30
        while not conn.execute(text("SELECT pg_current_wal_flush_lsn() >= :end"), {"end": end}).scalar_one():
            assert time.monotonic() < deadline, "the WAL was not flushed within 30 s"
            conn.rollback()
            time.sleep(0.2)
        voters_xids = set(conn.execute(text("SELECT xmin::text::bigint FROM portal_emargement")).scalars())
        filenode = conn.execute(text("SELECT pg_relation_filenode('portal_ballot')")).scalar_one()
        logged_xids = set(
            conn.execute(
                text(
                    "SELECT xid::text::bigint FROM pg_get_wal_records_info(:start, :end) "
                    "WHERE resource_manager = 'Heap' AND record_type LIKE 'INSERT%' AND block_ref LIKE :relation"
                ),
                {"start": start, "end": end, "relation": f"%/{filenode} %"},
            ).scalars()
        )
    assert len(voters_xids) == len(VOTERS)
    assert _tuple_xids(database) == voters_xids
    assert mix(database) == len(VOTERS)
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM portal_ballot"))
    # No tuple, live or dead, carries an émargement's transaction id any more ...
    assert not _tuple_xids(database) & voters_xids
    # ... but VACUUM does not zero the space it frees: old tuple headers may stay there until overwritten. VACUUM
    # FULL (after the closing: it locks the table) writes the table anew, and then no page holds any of those ids.
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM FULL portal_ballot"))
    pages = _raw_pages(database)
    assert pages and not [xid for xid in voters_xids if xid.to_bytes(4, "little") in _outside_ballots(database, pages)]
    # The log still links each ballot's insertion to its émargement's transaction.
    assert logged_xids == voters_xids


def _tuple_xids(database: Database) -> set[int]:
    with database.engine.connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT t_xmin::text::bigint FROM generate_series(0, "
                    "pg_relation_size('portal_ballot') / current_setting('block_size')::int - 1) AS page, "
                    "heap_page_items(get_raw_page('portal_ballot', page::int)) WHERE t_xmin IS NOT NULL"
                )
            ).scalars()
        )


def _outside_ballots(database: Database, pages: bytes) -> bytes:
    """The pages less the ballots' own contents (their ciphertexts and proofs), where an id may appear by chance: a
    128-bit challenge is stored as a 32-byte scalar whose upper 16 bytes are zero, so any id below 2**16 reads there
    whenever the challenge's 15th and 16th bytes happen to equal its two low bytes (about one run in fifty for this
    test's 12 ballots of 9 challenges each). What is left is the pages' own structure: headers, line pointers, the
    tuples' headers (their transaction ids) and free space."""
    with database.engine.connect() as conn:
        contents = conn.execute(text("SELECT ciphertexts, proofs FROM portal_ballot")).all()
    assert contents
    for ciphertexts, proofs in contents:
        assert bytes(ciphertexts) in pages and bytes(proofs) in pages  # stored as they are, uncompressed, in place
        pages = pages.replace(bytes(ciphertexts), b"").replace(bytes(proofs), b"")
    return pages


def _raw_pages(database: Database) -> bytes:
    with database.engine.connect() as conn:
        return b"".join(
            bytes(page)
            for page in conn.execute(
                text(
                    "SELECT get_raw_page('portal_ballot', page::int) FROM generate_series(0, "
                    "pg_relation_size('portal_ballot') / current_setting('block_size')::int - 1) AS page"
                )
            ).scalars()
        )
