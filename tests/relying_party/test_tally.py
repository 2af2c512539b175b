"""``portal election tally``: refused before the closing; after it, the aggregate of the box, decrypted by k of the
trustees (``portal trustee decrypt`` on their machines) — never a ballot; one trustee alone decrypts nothing; a
false partial decryption is refused; the result is on the public board with the election record."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import update

from relying_party.ceremony.trustee import decrypt
from relying_party.cli import main
from relying_party.db import get_db
from relying_party.elections.tally import TallyRefused, tally
from relying_party.models import Scrutin, utcnow
from tests.relying_party.ceremony import PASSPHRASE
from tests.relying_party.helpers import list_ids, load, scrutin_entry, scrutin_id
from tests.relying_party.voting import cast_choice, ensure_key

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
    ensure_key(app, "TALLY")
    lists = list_ids(app, "TALLY")
    # 3 for list 1, 1 for list 2, 0 for list 3, 2 blank; one voter abstains.
    choices = [lists[0], lists[0], lists[0], lists[1], None, None]
    for identifier, choice in zip(VOTERS, choices, strict=False):
        cast_choice(
            app, scrutin_id=scrutin_id(app, "TALLY"), voter_identifier=identifier, candidate_list_id=choice, now=now
        )
    return app


def _close(app: Flask) -> None:
    with get_db(app).transaction() as session:
        session.execute(
            update(Scrutin)
            .where(Scrutin.code == "TALLY")
            .values(opens_at=utcnow() - dt.timedelta(days=2), closes_at=utcnow() - dt.timedelta(minutes=1))
        )


def _portal(app: Flask, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("PORTAL_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("PORTAL_TRUSTEE_PASSPHRASE", PASSPHRASE)
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_tally_is_refused_before_the_closing(voted: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TallyRefused, match="n'est pas clos"):
        tally(get_db(voted), "TALLY", utcnow())
    status, output = _portal(voted, monkeypatch, "election", "tally", "TALLY")
    assert status == 1
    assert "Le scrutin TALLY n'est pas clos : le dépouillement est possible après le" in output
    assert "(Heure de Paris)" in output


def test_two_of_three_trustees_count_without_decrypting_any_ballot(
    voted: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _close(voted)
    trustees = ensure_key(voted, "TALLY")
    request = tmp_path / "demande.json"
    status, output = _portal(voted, monkeypatch, "election", "tally", "TALLY", "--request", str(request))
    assert status == 3, output
    assert "En attente des garants : 0 déchiffrement(s) partiel(s) sur 2 requis" in output
    document = json.loads(request.read_text())
    assert document["type"] == "decryption-request" and document["ballots"] == 6 and len(document["aggregate"]) == 4

    def partial(index: int) -> Path:
        path = tmp_path / f"partiel-{index}.json"
        key = str(trustees[index - 1].key_file)
        code, said = _portal(
            voted, monkeypatch, "trustee", "decrypt", str(request), "--key-file", key, "--output", str(path)
        )
        assert code == 0, said
        return path

    # One trustee alone: nothing is decrypted.
    status, output = _portal(voted, monkeypatch, "election", "tally", "TALLY", "--partial", str(partial(3)))
    assert status == 3 and "1 déchiffrement(s) partiel(s) sur 2 requis (reçus : 3)" in output
    # A second one: the totals.
    status, output = _portal(voted, monkeypatch, "election", "tally", "TALLY", "--partial", str(partial(1)))
    assert status == 0, output
    assert "Émargements : 6" in output and "Bulletins dans l'urne : 6" in output
    status, output = _portal(voted, monkeypatch, "election", "tally", "TALLY", "--json")
    data = json.loads(output)
    assert [line["votes"] for line in data["lines"]] == [3, 1, 0, 2]
    assert data["lines"][-1]["name"] == "Vote blanc" and data["consistent"] is True and data["trustees"] == [1, 3]


def test_a_false_partial_decryption_is_refused(voted: Flask, tmp_path: Path) -> None:
    _close(voted)
    trustees = ensure_key(voted, "TALLY")
    _, request = tally(get_db(voted), "TALLY", utcnow())
    honest = decrypt(request, trustees[0].key_file, PASSPHRASE)
    forged = json.loads(json.dumps(honest))
    forged["shares"][0]["share"] = forged["shares"][1]["share"]
    with pytest.raises(TallyRefused, match="Le déchiffrement partiel du garant n° 1 est faux"):
        tally(get_db(voted), "TALLY", utcnow(), partials=[forged])
    # A partial decryption of another trustee's share presented under trustee 2's name.
    impostor = dict(decrypt(request, trustees[2].key_file, PASSPHRASE), trustee=2)
    with pytest.raises(TallyRefused, match="garant n° 2 est faux"):
        tally(get_db(voted), "TALLY", utcnow(), partials=[impostor])
    state, _ = tally(get_db(voted), "TALLY", utcnow(), partials=[honest])
    assert state.lines is None and state.trustees == [1]


def test_the_result_and_the_record_are_public_after_the_tally(voted: Flask, tmp_path: Path) -> None:
    _close(voted)
    trustees = ensure_key(voted, "TALLY")
    _, request = tally(get_db(voted), "TALLY", utcnow())
    partials = [decrypt(request, t.key_file, PASSPHRASE) for t in trustees[:2]]
    state, _ = tally(get_db(voted), "TALLY", utcnow(), partials=partials)
    assert state.lines is not None and [line.votes for line in state.lines] == [3, 1, 0, 2]
    client = voted.test_client()
    board = client.get("/scrutins/TALLY/urne")
    assert board.status_code == 200
    text = board.get_data(as_text=True)
    assert "Résultat" in text and "6 bulletin(s) dans l'urne" in text
    record = client.get("/scrutins/TALLY/urne/dossier.jsonl")
    assert record.status_code == 200
    lines = [json.loads(line) for line in record.get_data(as_text=True).splitlines()]
    assert [item["type"] for item in lines] == ["election"] + ["ballot"] * 6 + ["aggregate"] + [
        "partial_decryption"
    ] * 2 + ["result"]
    codes = [item["tracking_code"] for item in lines if item["type"] == "ballot"]
    assert codes == sorted(codes), "ordered by tracking code, never by time"
    assert [t["votes"] for t in lines[-1]["totals"]] == [3, 1, 0, 2]


def test_unknown_scrutin(app: Flask) -> None:
    with pytest.raises(TallyRefused, match="Scrutin inconnu"):
        tally(get_db(app), "NOPE", utcnow())


def test_the_aggregate_is_the_same_computed_by_several_processes(voted: Flask) -> None:
    from relying_party.elections.tally import aggregate_box

    target = scrutin_id(voted, "TALLY")
    alone = aggregate_box(get_db(voted), target, 4, workers=1)
    shared = aggregate_box(get_db(voted), target, 4, workers=2, min_parallel=0)
    assert alone == shared and alone[1] == 6
    # libsodium alone (where libdecaf is not installed) adds up to the same bytes.
    assert aggregate_box(get_db(voted), target, 4, workers=2, min_parallel=0, use_decaf=False) == alone
