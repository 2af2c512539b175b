"""``portal election tally``: refused before the closing; after it, the aggregate of the box, decrypted by k of the
trustees (``portal trustee decrypt`` on their machines) — never a ballot; one trustee alone decrypts nothing; a
false partial decryption is refused; a trustee decrypts nothing but the sum of the published box; the result is
on the public board with the election record."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import update

from relying_party.ceremony.trustee import TrusteeRefused, decrypt
from relying_party.cli import main
from relying_party.db import get_db
from relying_party.elections.record import election_record
from relying_party.elections.tally import TallyRefused, tally
from relying_party.models import Scrutin, utcnow
from tests.relying_party.ceremony import PASSPHRASE
from tests.relying_party.helpers import list_ids, load, scrutin_entry, scrutin_id
from tests.relying_party.voting import cast_choice, ensure_key, trustee_decrypt

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
    request, record = tmp_path / "demande.json", tmp_path / "dossier.jsonl"
    status, output = _portal(
        voted, monkeypatch, "election", "tally", "TALLY", "--request", str(request), "--record", str(record)
    )
    assert status == 3, output
    assert "En attente des garants : 0 déchiffrement(s) partiel(s) sur 2 requis" in output
    document = json.loads(request.read_text())
    assert document["type"] == "decryption-request" and document["ballots"] == 6 and len(document["aggregate"]) == 4

    def partial(index: int) -> Path:
        path = tmp_path / f"partiel-{index}.json"
        key = str(trustees[index - 1].key_file)
        args = ["trustee", "decrypt", str(request), "--record", str(record), "--key-file", key, "--output", str(path)]
        code, said = _portal(voted, monkeypatch, *args)
        assert code == 0, said
        assert "agrégat recalculé depuis le dossier : 6 bulletin(s), 6 émargement(s) ; empreinte de l'urne " in said
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


def test_a_trustee_decrypts_only_the_sum_of_the_published_box(
    voted: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A portal that asks the trustees to decrypt one voter's ciphertext (as "the aggregate"), or that shows them a
    box that does not add up to what it asks, gets nothing: the trustee recomputes the sum from the record."""
    _close(voted)
    trustees = ensure_key(voted, "TALLY")
    _, request = tally(get_db(voted), "TALLY", utcnow())
    lines = list(election_record(get_db(voted), "TALLY"))
    ballots = [json.loads(line) for line in lines if json.loads(line)["type"] == "ballot"]
    one_voter = [{"alpha": c["alpha"], "beta": c["beta"]} for c in ballots[0]["ballot"]["choices"]]

    def refused(request: dict[str, Any], record: list[bytes]) -> str:
        with pytest.raises(TrusteeRefused) as refusal:
            decrypt(request, trustees[0].key_file, PASSPHRASE, record)
        return str(refusal.value)

    # One voter's ciphertext presented as the aggregate of the real box.
    assert refused({**request, "aggregate": one_voter}, lines).startswith(
        "La demande de déchiffrement ne porte pas sur la somme des bulletins de l'urne publiée"
    )
    # ... even with a record whose aggregate line says the same.
    stated = json.loads(lines[len(ballots) + 1])
    forged_line = json.dumps({**stated, "choices": one_voter}).encode() + b"\n"
    forged = [*lines[: len(ballots) + 1], forged_line, *lines[len(ballots) + 2 :]]
    assert (
        refused({**request, "aggregate": one_voter}, forged)
        == "L'agrégat du dossier n'est pas la somme de ses bulletins."
    )
    # A ballot dropped from the record, or shown twice, or a tracking code that is not its ballot's.
    assert refused(request, [lines[0], *lines[2:]]) == "L'agrégat du dossier n'est pas la somme de ses bulletins."
    assert "un doublon" in refused(request, [lines[0], lines[1], *lines[1:]])
    relabelled = json.loads(lines[1])
    relabelled["tracking_code"] = "00" * 32
    assert "ne correspond pas à son bulletin" in refused(
        request, [lines[0], json.dumps(relabelled).encode(), *lines[2:]]
    )
    # Another election's record.
    other = json.loads(lines[0])
    other["election_hash"] = "11" * 32
    assert "une autre élection" in refused(request, [json.dumps(other).encode(), *lines[1:]])
    # The honest request and record: decrypted, with what to compare with the public board.
    partial, summary = decrypt(request, trustees[0].key_file, PASSPHRASE, lines)
    assert partial["type"] == "partial-decryption" and (summary.ballots, summary.emargements) == (6, 6)
    codes = b"".join(bytes.fromhex(b["tracking_code"]) for b in ballots)
    assert summary.fingerprint == hashlib.sha256(b"portail-elections/v1/box\x00" + codes).digest()


def test_a_false_partial_decryption_is_refused(voted: Flask, tmp_path: Path) -> None:
    _close(voted)
    trustees = ensure_key(voted, "TALLY")
    _, request = tally(get_db(voted), "TALLY", utcnow())
    honest = trustee_decrypt(voted, request, trustees[0].key_file)
    forged = json.loads(json.dumps(honest))
    forged["shares"][0]["share"] = forged["shares"][1]["share"]
    with pytest.raises(TallyRefused, match="Le déchiffrement partiel du garant n° 1 est faux"):
        tally(get_db(voted), "TALLY", utcnow(), partials=[forged])
    # A partial decryption of another trustee's share presented under trustee 2's name.
    impostor = dict(trustee_decrypt(voted, request, trustees[2].key_file), trustee=2)
    with pytest.raises(TallyRefused, match="garant n° 2 est faux"):
        tally(get_db(voted), "TALLY", utcnow(), partials=[impostor])
    state, _ = tally(get_db(voted), "TALLY", utcnow(), partials=[honest])
    assert state.lines is None and state.trustees == [1]


def test_the_result_and_the_record_are_public_after_the_tally(voted: Flask, tmp_path: Path) -> None:
    _close(voted)
    trustees = ensure_key(voted, "TALLY")
    _, request = tally(get_db(voted), "TALLY", utcnow())
    partials = [trustee_decrypt(voted, request, t.key_file) for t in trustees[:2]]
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
