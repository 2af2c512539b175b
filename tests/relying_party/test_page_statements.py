"""SQL statements, connections and transactions of each signed-in page of a voter's journey, exactly: a query added
to a page fails here rather than only showing in ``python -m benchmarks.voter_journey``.

On PostgreSQL a page's reads run outside any transaction (no ``BEGIN`` and ``ROLLBACK`` round trips around them:
``infra.db.Database.page_reader``); casting a ballot still runs in one transaction (the émargement, the ballot and
its audit event), reading the scrutin's window and the roll in it.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from relying_party.db import get_db
from relying_party.models import utcnow
from tests.relying_party.helpers import sign_in, standard_document, text_of
from tests.relying_party.voting import ballot_page, load_keyed, post_ballot

#: The module hashchain.append (the package exports its function under the same name).
appending = importlib.import_module("hashchain.append")


@dataclass
class Recorded:
    #: (statement, whether the driver's connection was in autocommit: no transaction around it on PostgreSQL)
    statements: list[tuple[str, bool]] = field(default_factory=list)
    checkouts: int = 0
    commits: int = 0

    def texts(self) -> list[str]:
        return [statement.split()[0] for statement, _ in self.statements]

    def in_transaction(self) -> list[str]:
        return [statement for statement, autocommit in self.statements if not autocommit]


@contextlib.contextmanager
def recording(app: Flask) -> Iterator[Recorded]:
    engine = get_db(app).engine
    found = Recorded()

    def on_execute(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "portal_ephemeral" in statement:
            return  # the session store's table (the SQL store on SQLite; Redis on PostgreSQL)
        autocommit = bool(getattr(conn.connection.dbapi_connection, "autocommit", False))
        found.statements.append((statement, autocommit and engine.dialect.name == "postgresql"))

    def on_send(cursor: Any, sql: str, params: Any) -> None:  # the audit append's pipeline on PostgreSQL
        found.statements.append((sql, False))
        send(cursor, sql, params)

    def on_checkout(*_: Any) -> None:
        found.checkouts += 1

    def on_commit(conn: Any) -> None:
        found.commits += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine.pool, "checkout", on_checkout)
    event.listen(engine, "commit", on_commit)
    send = appending.send
    appending.send = on_send
    try:
        yield found
    finally:
        appending.send = send
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine.pool, "checkout", on_checkout)
        event.remove(engine, "commit", on_commit)


@pytest.fixture
def voter(app: Flask, client: FlaskClient, tmp_path: Path) -> FlaskClient:
    """Claire, signed in at the vote-code level, the scrutins already in the process's catalogue."""
    load_keyed(app, standard_document(utcnow()), tmp_path / "garants")
    sign_in(client, app, vote_level_age=10)
    assert client.get("/je-vote").status_code == 200
    return client


def _page_reads(app: Flask, recorded: Recorded, statements: int) -> None:
    """A page: ``statements`` reads; on PostgreSQL on one connection and outside any transaction (on SQLite the
    session store shares the engine: its reads, and their deferred ``BEGIN``, are there too)."""
    assert recorded.commits == 0
    if get_db(app).is_sqlite:
        assert [text for text in recorded.texts() if text != "BEGIN"] == ["SELECT"] * statements
    else:
        assert recorded.checkouts == 1
        assert recorded.texts() == ["SELECT"] * statements
        assert recorded.in_transaction() == []


@pytest.mark.parametrize("path", ["/", "/je-vote", "/je-vote/OPEN"])
def test_a_signed_in_page_reads_the_voters_roll_and_emargements_once(app: Flask, voter: FlaskClient, path: str) -> None:
    with recording(app) as recorded:
        assert voter.get(path).status_code == 200
    _page_reads(app, recorded, 1)
    assert "FROM portal_roll_entry" in recorded.statements[-1][0]


def test_casting_is_one_transaction_and_the_receipt_one_read(app: Flask, voter: FlaskClient) -> None:
    page = ballot_page(voter, "OPEN")
    with recording(app) as cast:
        assert post_ballot(voter, "OPEN", page, page.encrypt(1)).status_code == 303
    # No read before the transaction (the scrutin and its election from the process's catalogue); in it: the
    # scrutin's window with the voter's roll entry (one SELECT), the émargement, the ballot, the audit event (the
    # chain's lock, then the event after its head: one round trip on PostgreSQL, hashchain.append).
    assert cast.commits == 1
    written = [s for s, _ in cast.statements if not s.startswith("BEGIN")]
    assert [s.split()[0] for s in written] == ["SELECT", "INSERT", "INSERT", "SELECT", "INSERT"]
    assert "FROM portal_scrutin LEFT OUTER JOIN portal_roll_entry" in written[0]
    assert [s.split()[2] for s in written[1:3]] == ["portal_emargement", "portal_ballot"]
    assert "portal_audit_event" in written[4]
    if not get_db(app).is_sqlite:
        assert cast.checkouts == 1
        assert cast.in_transaction() == written  # every statement in the one transaction

    with recording(app) as receipt:
        response = voter.get("/je-vote/OPEN/recu")
    assert response.status_code == 200 and 'class="receipt-code"' in response.get_data(as_text=True)
    _page_reads(app, receipt, 1)  # the voter's scrutins with the sealed receipt of their émargement
    assert "portal_emargement.receipt" in receipt.statements[-1][0]


def test_a_refused_ballot_is_answered_with_the_voters_scrutin_read_again(app: Flask, voter: FlaskClient) -> None:
    """The accepted ballot reads nothing before its transaction; a refusal reads the voter's scrutins to answer (a
    ballot of another page: the proofs checked first, then the page)."""
    page = ballot_page(voter, "OPEN")
    other = ballot_page(voter, "OPEN2")
    with recording(app) as refused:
        response = post_ballot(voter, "OPEN", page, other.encrypt(1))
    assert response.status_code == 400 and "Aucun bulletin n'a été enregistré" in text_of(response)
    assert refused.commits == 0
    assert [s for s, _ in refused.statements if not s.startswith("BEGIN")][-1].count("FROM portal_roll_entry") == 1
