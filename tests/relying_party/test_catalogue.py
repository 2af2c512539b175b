"""The scrutins kept in each web process (relying_party.elections.catalogue): the pages stop reading them from the
database while they are fresh, show an operator's change once they are not, and casting still decides on the
database's window whatever a page showed."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, template_rendered
from flask.testing import FlaskClient
from jinja2 import Template
from sqlalchemy import event, func, select, update

from relying_party.db import get_db
from relying_party.elections.catalogue import get_catalogue
from relying_party.models import Ballot, CandidateList, Scrutin, utcnow
from tests.relying_party.helpers import MARC, sign_in, standard_document, text_of
from tests.relying_party.voting import BallotPage, ballot_page, load_keyed, post_ballot


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


def test_the_ballots_choices_are_rendered_once_per_copy_of_the_scrutin(keyed: Flask, client: FlaskClient) -> None:
    """The ballot's lists, candidates and blank vote are the same for every voter: rendered once from the process's
    copy of the scrutin, again from a new copy (an operator's change shows with it)."""
    rendered: list[str] = []

    def note(_app: Flask, template: Template, context: dict[str, Any], **_: Any) -> None:
        if template.name == "portal/_ballot_choices.html":
            rendered.append(context["scrutin"].code)

    def choices(page: BallotPage) -> str:
        found = re.search(
            r'<fieldset class="fr-fieldset" id="ballot-fieldset".*?</fieldset>', text_of(page.response), re.S
        )
        assert found is not None
        return found.group(0)

    template_rendered.connect(note, keyed)
    try:
        sign_in(client, keyed, vote_level_age=10)
        claire = choices(ballot_page(client, "OPEN"))
        marc_client = keyed.test_client()
        sign_in(marc_client, keyed, email=MARC, vote_level_age=10)
        marc = choices(ballot_page(marc_client, "OPEN"))
        assert rendered == ["OPEN"]
        assert claire == marc
        assert "Liste n° 1 : Syndicat fictif A" in claire and "CANDIDATE2 Alice" in claire and "Vote blanc" in claire
        assert claire.count('type="radio"') == 3  # two lists and the blank vote
        with get_db(keyed).transaction() as session:
            session.execute(
                update(CandidateList)
                .where(
                    CandidateList.position == 1,
                    CandidateList.scrutin_id == select(Scrutin.id).where(Scrutin.code == "OPEN").scalar_subquery(),
                )
                .values(organisation="Syndicat renommé")
            )
        assert "Syndicat renommé" not in choices(ballot_page(client, "OPEN"))  # the copy is fresh
        with keyed.app_context():
            get_catalogue().max_age = 0  # as if 10 s had passed
        assert "Liste n° 1 : Syndicat renommé" in choices(ballot_page(client, "OPEN"))
        assert len(rendered) >= 2
    finally:
        template_rendered.disconnect(note, keyed)
