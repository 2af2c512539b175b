"""``portal election tally``: refused before the closing, counts per list and blank after it."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import update

from relying_party.cli import main
from relying_party.db import get_db
from relying_party.elections.tally import TallyRefused, tally
from relying_party.models import Scrutin, utcnow
from relying_party.voting.service import cast_ballot
from tests.relying_party.helpers import list_ids, load, scrutin_entry, scrutin_id

VOTERS = {f"votant.{n}@ac-exemple.fr": f"Mme VOTANTE {n}" for n in range(7)}


@pytest.fixture
def voted(app: Flask) -> Flask:
    now = utcnow()
    load(
        app,
        {
            "scrutins": [
                scrutin_entry("TALLY", now - dt.timedelta(days=1), now + dt.timedelta(days=1), lists=3, roll=VOTERS)
            ]
        },
    )
    lists = list_ids(app, "TALLY")
    # 3 for list 1, 1 for list 2, 0 for list 3, 2 blank; one voter abstains.
    choices = [lists[0], lists[0], lists[0], lists[1], None, None]
    for identifier, choice in zip(VOTERS, choices, strict=False):
        cast_ballot(
            get_db(app),
            scrutin_id=scrutin_id(app, "TALLY"),
            voter_identifier=identifier,
            candidate_list_id=choice,
            now=now,
        )
    return app


def _close(app: Flask) -> None:
    with get_db(app).transaction() as session:
        session.execute(
            update(Scrutin)
            .where(Scrutin.code == "TALLY")
            .values(opens_at=utcnow() - dt.timedelta(days=2), closes_at=utcnow() - dt.timedelta(minutes=1))
        )


def _env(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_DATABASE_URL", app.config["DATABASE_URL"])


def test_tally_is_refused_before_the_closing(voted: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TallyRefused, match="n'est pas clos"):
        tally(get_db(voted), "TALLY", utcnow())
    _env(voted, monkeypatch)
    result = CliRunner().invoke(main, ["election", "tally", "TALLY"])
    assert result.exit_code == 1
    assert "Le scrutin TALLY n'est pas clos : le dépouillement est possible après le" in result.output
    assert "(Heure de Paris)" in result.output


def test_tally_counts_per_list_and_blank_after_the_closing(voted: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    _close(voted)
    result = tally(get_db(voted), "TALLY", utcnow())
    assert [(line.position, line.name, line.votes) for line in result.lines] == [
        (1, "Syndicat fictif A", 3),
        (2, "Union imaginaire B", 1),
        (3, "Collectif exemple C", 0),
    ]
    assert (result.blank, result.ballots, result.emargements, result.consistent) == (2, 6, 6, True)
    _env(voted, monkeypatch)
    table = CliRunner().invoke(main, ["election", "tally", "TALLY"])
    assert table.exit_code == 0, table.output
    assert "Émargements : 6" in table.output and "Votes blancs" in table.output
    as_json = CliRunner().invoke(main, ["election", "tally", "TALLY", "--json"])
    data = json.loads(as_json.output)
    assert [line["votes"] for line in data["lines"]] == [3, 1, 0] and data["blank"] == 2


def test_unknown_scrutin(app: Flask) -> None:
    with pytest.raises(TallyRefused, match="Scrutin inconnu"):
        tally(get_db(app), "NOPE", utcnow())
