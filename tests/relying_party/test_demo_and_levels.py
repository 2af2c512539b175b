"""The demo data of the seed, and the rules that decide whether the vote-code level is proved and fresh."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from relying_party.cli import main
from relying_party.db import get_db
from relying_party.elections.queries import my_scrutins
from relying_party.elections.timefmt import countdown
from relying_party.models import CandidateList, utcnow
from relying_party.signin.identity import level_problem
from tests.relying_party.helpers import CLAIRE, MARC, VOTE_ACR, load, sign_in, standard_document
from tests.relying_party.voting import ensure_key


def test_demo_load_follows_the_seed_and_is_idempotent(
    app: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PORTAL_DATABASE_URL", app.config["DATABASE_URL"])
    folder = tmp_path / "demo-garants"
    first = CliRunner().invoke(main, ["demo", "load", "--trustees-dir", str(folder)])
    assert first.exit_code == 0, first.output
    assert "3 scrutins créés" in first.output
    # The demo's key ceremony: three fictitious trustees whose files are in the folder, marked as demo-only.
    assert "Garants de démonstration (clés fictives, jamais pour un vrai scrutin) : 2 sur 3" in first.output
    assert sorted(p.name for p in folder.iterdir()) == ["garant-1.key", "garant-2.key", "garant-3.key"]
    second = CliRunner().invoke(main, ["demo", "load", "--trustees-dir", str(folder)])
    assert "0 scrutins créés" in second.output and "0 listes créées" in second.output
    now = utcnow()
    with get_db(app).reader() as session:
        for voter in (CLAIRE, MARC):
            mine = my_scrutins(session, voter, now, with_lists=True)
            assert len(mine) == 3
            for item in mine:
                left = countdown(item.scrutin.opens_at, item.scrutin.closes_at, now)
                assert left.phase == "open" and left.days == 7
                assert item.scrutin.key_ceremony_id is not None, "every demo scrutin has its election key"
        pdfs = session.execute(select(CandidateList.profession_de_foi)).scalars().all()
    assert pdfs and all(pdf and pdf.startswith(b"%PDF-") for pdf in pdfs)


CLAIMS = {"acr": VOTE_ACR, "amr": ["pwd", "otp"]}


def test_level_problem(app: Flask) -> None:
    now = time.time()
    with app.app_context():
        assert level_problem({**CLAIMS, "auth_time": int(now) - 10}, now=now) is None
        assert (
            level_problem({**CLAIMS, "acr": "urn:portail-elections:acr:password", "auth_time": int(now)}, now=now)
            == "acr"
        )
        assert level_problem({**CLAIMS, "amr": ["pwd"], "auth_time": int(now)}, now=now) == "amr"
        assert level_problem({**CLAIMS}, now=now) == "auth_time"
        assert level_problem({**CLAIMS, "auth_time": int(now) - 400}, now=now) == "auth_time", "older than max_age"
        assert level_problem({**CLAIMS, "auth_time": int(now) + 120}, now=now) == "auth_time"


def test_vote_level_lasts_vote_level_ttl_after_the_vote_code(app: Flask) -> None:
    load(app, standard_document(utcnow()))
    ensure_key(app, "OPEN")
    ttl = app.config["VOTE_LEVEL_TTL"]
    assert ttl >= app.config["VOTE_MAX_AGE"]
    fresh, stale = app.test_client(), app.test_client()
    sign_in(fresh, app, vote_level_age=ttl - 20)
    sign_in(stale, app, vote_level_age=ttl + 5)
    assert fresh.get("/je-vote/OPEN").status_code == 200
    response = stale.get("/je-vote/OPEN")
    assert response.status_code == 303 and response.headers["Location"].startswith("/je-vote/code")
