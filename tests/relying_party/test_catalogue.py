"""The scrutins kept in each web process (relying_party.elections.catalogue): the pages stop reading them from the
database while they are fresh, show an operator's change once they are not, and casting still decides on the
database's window whatever a page showed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, update

from relying_party.db import get_db
from relying_party.elections.catalogue import get_catalogue
from relying_party.models import Ballot, Scrutin, utcnow
from tests.relying_party.helpers import sign_in, standard_document, text_of
from tests.relying_party.voting import ballot_page, load_keyed, post_ballot


@pytest.fixture
def keyed(app: Flask, tmp_path: Path) -> Flask:
    load_keyed(app, standard_document(utcnow()), tmp_path / "garants")
    return app


@pytest.fixture
def statements(keyed: Flask) -> Iterator[list[str]]:
    """Every statement the portal's engine runs meanwhile."""
    seen: list[str] = []
    engine = get_db(keyed).engine

    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


def _scrutin_reads(statements: list[str]) -> list[str]:
    return [s for s in statements if "FROM portal_scrutin" in s or "FROM portal_candidate" in s]


def test_pages_read_the_scrutins_once_while_they_are_fresh(
    keyed: Flask, client: FlaskClient, statements: list[str]
) -> None:
    sign_in(client, keyed, vote_level_age=10)
    first = client.get("/je-vote")
    assert first.status_code == 200 and "Voter" in text_of(first)
    assert _scrutin_reads(statements)  # the first page loads them
    statements.clear()
    for path in ("/je-vote", "/", "/mes-scrutins"):
        assert client.get(path).status_code == 200
    page = ballot_page(client, "OPEN")
    assert page.options == 3
    assert _scrutin_reads(statements) == []
    # What is the voter's own is read at every page: the roll and the émargement.
    assert sum("FROM portal_roll_entry" in s for s in statements) == 4


def test_a_change_shows_once_the_copy_is_older_than_its_max_age(keyed: Flask, client: FlaskClient) -> None:
    sign_in(client, keyed, vote_level_age=10)
    assert "Scrutin renommé" not in text_of(client.get("/mes-scrutins"))
    with get_db(keyed).transaction() as session:
        session.execute(update(Scrutin).where(Scrutin.code == "OPEN").values(label="Scrutin renommé"))
    assert "Scrutin renommé" not in text_of(client.get("/mes-scrutins"))  # the copy is fresh: 10 s by default
    with keyed.app_context():
        get_catalogue().max_age = 0  # as if 10 s had passed
    assert "Scrutin renommé" in text_of(client.get("/mes-scrutins"))


def test_casting_checks_the_window_in_the_database_not_in_the_copy(keyed: Flask, client: FlaskClient) -> None:
    sign_in(client, keyed, vote_level_age=10)
    page = ballot_page(client, "OPEN")  # the copy says: open
    with get_db(keyed).transaction() as session:
        session.execute(
            update(Scrutin).where(Scrutin.code == "OPEN").values(closes_at=utcnow() - dt.timedelta(minutes=1))
        )
    refused = post_ballot(client, "OPEN", page, page.encrypt(0))
    assert refused.status_code == 403
    assert "Le vote pour ce scrutin est clos" in text_of(refused)
    with get_db(keyed).sessionmaker() as session:
        assert session.execute(select(func.count()).select_from(Ballot)).scalar_one() == 0


def test_no_copy_kept_with_a_max_age_of_zero(make_portal: Callable[..., Flask], tmp_path: Path) -> None:
    app = make_portal(ELECTION_CACHE_SECONDS=0)
    load_keyed(app, standard_document(utcnow()), tmp_path / "garants")
    client = app.test_client()
    sign_in(client, app, vote_level_age=10)
    client.get("/je-vote")
    with get_db(app).transaction() as session:
        session.execute(update(Scrutin).where(Scrutin.code == "OPEN").values(label="Scrutin renommé"))
    assert "Scrutin renommé" in text_of(client.get("/mes-scrutins"))
