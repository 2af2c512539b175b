"""Casting an encrypted ballot through the pages: the ballot page, the receipt (also after the ephemeral store is
lost), double click, refusals (window, vote-code level, no election key), and forged ballots refused with a clear
French message and nothing recorded."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from infra.sessions import store_key
from relying_party.db import get_db
from relying_party.models import Ballot, Emargement, utcnow
from relying_party.pages.forms import MAX_BALLOT_CHARS
from relying_party.store import get_store
from relying_party.voting.election import ballot_nonce
from relying_party.voting.mixing import mix
from tests.relying_party.helpers import CLAIRE, MARC, csrf_of, load, scrutin_id, sign_in, standard_document, text_of
from tests.relying_party.voting import ballot_page, encrypted, ensure_key, info_of, load_keyed, post_ballot, vote
from votecrypto import group as g
from votecrypto.ballot import display_code
from votecrypto.proofs import ZeroOrOne


def _counts(app: Flask) -> tuple[int, int]:
    with get_db(app).sessionmaker() as session:
        ballots = session.execute(select(func.count()).select_from(Ballot)).scalar_one()
        emargements = session.execute(select(func.count()).select_from(Emargement)).scalar_one()
    return int(ballots), int(emargements)


@pytest.fixture
def keyed(app: Flask, tmp_path: Path) -> Flask:
    load_keyed(app, standard_document(utcnow()), tmp_path / "garants")
    return app


def _receipt(response: TestResponse) -> str:
    match = re.search(r'class="receipt-code">([A-Z2-7-]+)<', text_of(response))
    assert match, text_of(response)
    return match.group(1)


def test_the_ballot_page_carries_no_choice_to_the_server_and_explains_itself_without_javascript(
    keyed: Flask, client: FlaskClient
) -> None:
    sign_in(client, keyed, vote_level_age=10)
    page = ballot_page(client, "OPEN")
    html = page.response.get_data(as_text=True)
    assert "Le vote nécessite JavaScript" in html and "formulaire de demande d'assistance" in html
    # The radio buttons are in a form without action or method, never sent; the sent form holds no choice.
    choice_form = re.search(r'<form id="ballot-choice"[^>]*>', html)
    cast_form = re.search(r'<form id="ballot-cast".*?</form>', html, re.S)
    assert choice_form and "hidden" in choice_form.group(0) and "action" not in choice_form.group(0)
    assert cast_form and 'name="choix"' not in cast_form.group(0)
    assert page.options == 3  # two lists and blank
    assert "Vote blanc" in html and "Liste n° 1 : Syndicat fictif A" in html


def test_vote_with_receipt_then_the_public_board(keyed: Flask, client: FlaskClient) -> None:
    sign_in(client, keyed, vote_level_age=10)
    cast = vote(client, "OPEN", 0)
    assert cast.status_code == 303 and cast.headers["Location"].endswith("/je-vote/OPEN/recu")
    receipt = _receipt(client.get("/je-vote/OPEN/recu"))
    with get_db(keyed).sessionmaker() as session:
        ballot = session.execute(select(Ballot)).scalar_one()
    assert display_code(ballot.tracking_code) == receipt
    assert _counts(keyed) == (1, 1)
    assert "A voté" in text_of(client.get("/je-vote"))
    # Before the next mix: the ballot is in the box, but its code is not listed yet (codes are published in batches,
    # so the moment a code appears does not tell who cast it).
    board = client.get(f"/scrutins/OPEN/urne?recu={receipt}")
    assert board.status_code == 200
    assert (
        f'Le bulletin de code <span class="receipt-code">{receipt}</span> est dans l\'urne. Son code apparaîtra dans '
        "la liste ci-dessous avec le prochain lot, dans quelques minutes."
    ) in text_of(board)
    assert "0 bulletin(s) dans l'urne" in text_of(board) and receipt not in text_of(client.get("/scrutins/OPEN/urne"))
    # The mixer's next round publishes the batch.
    assert mix(get_db(keyed)) == 1
    board = client.get(f"/scrutins/OPEN/urne?recu={receipt}")
    assert f'Le bulletin de code <span class="receipt-code">{receipt}</span> est dans l\'urne.</p>' in text_of(board)
    assert "1 bulletin(s) dans l'urne" in text_of(board)
    assert text_of(client.get("/scrutins/OPEN/urne")).count(receipt) == 1
    other = display_code(bytes(32))
    assert "Aucun bulletin de l'urne ne porte le code" in text_of(client.get(f"/scrutins/OPEN/urne?recu={other}"))


def test_the_receipt_survives_the_loss_of_the_ephemeral_store(keyed: Flask, client: FlaskClient) -> None:
    sid = sign_in(client, keyed, vote_level_age=10)
    vote(client, "OPEN", 1)
    receipt = _receipt(client.get("/je-vote/OPEN/recu"))
    get_store(keyed).delete(store_key(sid))  # the store lost everything the session held
    client.delete_cookie(keyed.config["SESSION_COOKIE_NAME"], domain="localhost")
    sign_in(client, keyed)  # a new session: nothing of the old one is left
    assert _receipt(client.get("/je-vote/OPEN/recu")) == receipt


def test_a_scrutin_created_before_format_2_keeps_format_1(keyed: Flask, client: FlaskClient) -> None:
    """Its manifest says version 1 (its election hash with it): the ballot page gives the browser format 1, the box
    accepts a format-1 ballot and refuses a format-2 one."""
    from sqlalchemy import update

    from relying_party.models import Scrutin

    with get_db(keyed).transaction() as session:
        session.execute(update(Scrutin).where(Scrutin.code == "OPEN").values(manifest_version=1))
    sign_in(client, keyed, vote_level_age=10)
    page = ballot_page(client, "OPEN")
    assert page.proof_format == 1 and 'data-format="1"' in page.response.get_data(as_text=True)
    manifest = info_of(keyed, "OPEN").manifest
    assert manifest.version == 1 and page.election == manifest.hash().hex()
    # The version is in the manifest, so in the election hash: the same scrutin in format 2 has another hash.
    assert dataclasses.replace(manifest, version=2).hash().hex() != page.election
    refused = post_ballot(client, "OPEN", page, dataclasses.replace(page, proof_format=2).encrypt(1))
    assert refused.status_code == 400
    assert "La preuve qu'une liste reçoit zéro ou une voix est invalide." in text_of(refused)
    assert _counts(keyed) == (0, 0)
    assert post_ballot(client, "OPEN", page, page.encrypt(1)).status_code == 303
    assert _counts(keyed) == (1, 1)


def test_double_click_is_harmless(keyed: Flask, client: FlaskClient) -> None:
    sign_in(client, keyed, vote_level_age=10)
    page = ballot_page(client, "OPEN")
    ballot = page.encrypt(2)
    first = post_ballot(client, "OPEN", page, ballot)
    second = post_ballot(client, "OPEN", page, ballot)
    assert first.status_code == 303
    assert second.status_code == 409
    text = text_of(second)
    assert "Votre vote a déjà été enregistré" in text and "Afficher mon reçu" in text
    assert _counts(keyed) == (1, 1)
    assert 'class="receipt-code"' in text_of(client.get("/je-vote/OPEN/recu"))


def _option(page, index: int, m: int) -> dict[str, str]:
    """Option ``index`` encrypting ``m`` with a proof made as if m were 0 or 1 (a forger's best attempt)."""
    key, election, nonce = (bytes.fromhex(x) for x in (page.key, page.election, page.nonce))
    r = g.random_scalar()
    alpha, beta = g.mul_base(r), g.add(g.mul(r, key), g.small_multiple(m))
    short = page.proof_format == 2
    proof = ZeroOrOne.prove((election, nonce, g.index_bytes(index)), key, alpha, beta, min(m, 1), r, short=short)
    return {
        "alpha": alpha.hex(),
        "beta": beta.hex(),
        "c0": proof.c0.hex(),
        "c1": proof.c1.hex(),
        "z0": proof.z0.hex(),
        "z1": proof.z1.hex(),
    }


@pytest.mark.parametrize(
    ("forgery", "message"),
    [
        ("two_lists", "La preuve que le bulletin porte exactement un choix (une liste ou le vote blanc) est invalide."),
        ("list_counted_twice", "La preuve qu'une liste reçoit zéro ou une voix est invalide."),
        ("another_election", "Ce bulletin a été préparé pour un autre scrutin ou une autre clé d'élection."),
        ("another_voters_ballot", "Ce bulletin n'a pas été préparé sur votre page de vote, ou celle-ci a expiré."),
        ("not_json", "Le bulletin reçu est illisible ou incomplet."),
        ("other_format", "La preuve qu'une liste reçoit zéro ou une voix est invalide."),
    ],
)
def test_forged_ballots_are_refused_and_nothing_is_recorded(
    keyed: Flask, client: FlaskClient, forgery: str, message: str
) -> None:
    sign_in(client, keyed, vote_level_age=10)
    page = ballot_page(client, "OPEN")
    data = page.encrypt(0).to_json()
    if forgery == "two_lists":
        data["choices"][1] = _option(page, 1, 1)
    elif forgery == "list_counted_twice":
        data["choices"][0] = _option(page, 0, 2)
    elif forgery == "another_election":
        data = encrypted(keyed, "OPEN2", 0, bytes.fromhex(page.nonce)).to_json()
        data["choices"] = data["choices"][:3]
    elif forgery == "another_voters_ballot":
        # Marc's ballot, built on Marc's page (his session's nonce), posted by Claire.
        marc = keyed.test_client()
        sign_in(marc, keyed, email=MARC, vote_level_age=10)
        data = ballot_page(marc, "OPEN").encrypt(1).to_json()
    elif forgery == "other_format":
        # Proofs of format 1 (full challenges) for this format-2 election: right election, right nonce.
        assert page.proof_format == 2
        data = dataclasses.replace(page, proof_format=1).encrypt(0).to_json()
    refused = post_ballot(client, "OPEN", page, "{not json" if forgery == "not_json" else data)
    assert refused.status_code == 400
    text = text_of(refused)
    assert "Votre bulletin a été refusé." in text and message in text
    assert "Aucun bulletin n'a été enregistré" in text
    assert _counts(keyed) == (0, 0)
    # Nothing was spent: the voter still votes.
    assert vote(client, "OPEN", 0).status_code == 303


def test_the_same_ciphertexts_cannot_enter_the_box_twice(keyed: Flask, client: FlaskClient) -> None:
    sign_in(client, keyed, vote_level_age=10)
    page = ballot_page(client, "OPEN")
    ballot = page.encrypt(1)
    assert post_ballot(client, "OPEN", page, ballot).status_code == 303
    # Marc replays Claire's exact ballot: refused (its nonce is Claire's session's, and its ciphertexts are in the box).
    marc = keyed.test_client()
    sign_in(marc, keyed, email=MARC, vote_level_age=10)
    marc_page = ballot_page(marc, "OPEN")
    refused = post_ballot(marc, "OPEN", marc_page, ballot)
    assert refused.status_code == 400
    from relying_party.voting.service import cast_ballot, rejected

    with pytest.raises(type(rejected("duplicate"))) as caught:
        cast_ballot(
            get_db(keyed),
            scrutin_id=scrutin_id(keyed, "OPEN"),
            voter_identifier=MARC,
            ballot=ballot,
            nonce=None,
            now=utcnow(),
            receipt_key=b"k" * 32,
        )
    assert caught.value.reason == "duplicate"
    assert _counts(keyed) == (1, 1)


def test_no_ballot_without_an_election_key(app: Flask, client: FlaskClient) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app, vote_level_age=10)
    page = client.get("/je-vote/OPEN")
    assert page.status_code == 200
    assert "la clé de l'élection n'a pas été générée par les garants" in text_of(page)
    token = csrf_of(client.get("/assistance"))
    forged = {"election": "00" * 32}
    refused = client.post("/je-vote/OPEN/bulletin", data={"csrf_token": token, "ballot": json.dumps(forged)})
    assert refused.status_code == 400
    assert _counts(app) == (0, 0)


def test_a_submission_without_its_ballot_a_too_long_one_or_its_csrf_token_is_refused_in_french(
    keyed: Flask, client: FlaskClient
) -> None:
    """The sent form has two fields, checked without a WTForms form: the CSRF token (CSRFProtect, before the view)
    and the encrypted ballot (present, at most MAX_BALLOT_CHARS)."""
    sign_in(client, keyed, vote_level_age=10)
    page = ballot_page(client, "OPEN")
    missing = client.post("/je-vote/OPEN/bulletin", data={"csrf_token": page.csrf})
    assert missing.status_code == 400
    assert "Le bulletin chiffré est absent : votre navigateur n'a pas pu le préparer." in text_of(missing)
    empty = post_ballot(client, "OPEN", page, "")
    assert empty.status_code == 400 and "Le bulletin chiffré est absent" in text_of(empty)
    too_long = post_ballot(client, "OPEN", page, "x" * (MAX_BALLOT_CHARS + 1))
    assert too_long.status_code == 400
    assert "Votre bulletin a été refusé. Le bulletin reçu est trop long." in text_of(too_long)
    ballot = json.dumps(page.encrypt(1).to_json())
    for token in ({}, {"csrf_token": "forged"}):
        forged = client.post("/je-vote/OPEN/bulletin", data={**token, "ballot": ballot})
        assert forged.status_code == 400
        assert "Cette page a expiré ou a été ouverte dans un autre onglet." in text_of(forged)
    assert _counts(keyed) == (0, 0)
    assert post_ballot(client, "OPEN", page, page.encrypt(1)).status_code == 303  # the same page still votes
    assert _counts(keyed) == (1, 1)


def test_vote_refused_outside_the_window(keyed: Flask, client: FlaskClient) -> None:
    sign_in(client, keyed, vote_level_age=10)
    closed = text_of(client.get("/je-vote/CLOSED"))
    assert "Le vote pour ce scrutin est clos : aucun bulletin ne peut plus être déposé." in closed
    future = text_of(client.get("/je-vote/FUTURE"))
    assert "Le vote pour ce scrutin n'est pas encore ouvert" in future
    page = ballot_page(client, "OPEN")
    for code in ("CLOSED", "FUTURE"):
        ballot = encrypted(keyed, code, 0, bytes.fromhex(page.nonce))
        response = post_ballot(client, code, page, ballot)
        assert response.status_code == 400
        assert "Aucun bulletin" in text_of(response)
    assert _counts(keyed) == (0, 0)


def test_vote_requires_the_fresh_vote_code_level(keyed: Flask, client: FlaskClient) -> None:
    sign_in(client, keyed)  # signed in with the password only
    page = client.get("/je-vote/OPEN")
    assert page.status_code == 303
    assert page.headers["Location"].startswith("/je-vote/code?next=")
    token = csrf_of(client.get("/mes-scrutins/reclamation"))
    ballot = json.dumps(encrypted(keyed, "OPEN", 0).to_json())
    refused = client.post("/je-vote/OPEN/bulletin", data={"csrf_token": token, "ballot": ballot})
    assert refused.status_code == 403
    text = text_of(refused)
    assert "vous devez saisir le code de vote" in text and "aucun bulletin n'a été déposé" in text
    assert "Saisir mon code de vote" in text
    assert _counts(keyed) == (0, 0)


def test_stale_vote_code_level_is_refused_at_submission(keyed: Flask, client: FlaskClient) -> None:
    sign_in(client, keyed, vote_level_age=keyed.config["VOTE_LEVEL_TTL"] + 5)
    token = csrf_of(client.get("/mes-scrutins/reclamation"))
    ballot = json.dumps(encrypted(keyed, "OPEN", 0).to_json())
    refused = client.post("/je-vote/OPEN/bulletin", data={"csrf_token": token, "ballot": ballot})
    assert refused.status_code == 403
    assert _counts(keyed) == (0, 0)


def test_voter_not_on_the_roll_sees_no_ballot(keyed: Flask, client: FlaskClient) -> None:
    sign_in(client, keyed, email="quelqu.un@ac-exemple.fr", vote_level_age=10)
    assert client.get("/je-vote/OPEN").status_code == 404
    token = csrf_of(client.get("/assistance"))
    ballot = json.dumps(encrypted(keyed, "OPEN", 0).to_json())
    assert client.post("/je-vote/OPEN/bulletin", data={"csrf_token": token, "ballot": ballot}).status_code == 404
    assert _counts(keyed) == (0, 0)
    assert CLAIRE not in text_of(client.get("/je-vote"))


def _voter_links(page: TestResponse) -> dict[str, str]:
    """« Voter » on « Je vote »: where each scrutin's link goes, by the scrutin's label."""
    found = re.findall(r'href="([^"]+)">Voter<span class="sr-only"> pour le scrutin ([^<]+)</span>', text_of(page))
    return {label: href for href, label in found}


def test_voter_leads_to_the_vote_code_step_when_the_ballot_would_only_bounce_there(
    app: Flask, client: FlaskClient
) -> None:
    """Without a fresh vote-code level, « Voter » goes straight to the vote-code step (which comes back to the
    ballot) rather than to the ballot page, which would only redirect there; with the level, or for a scrutin that
    cannot receive ballots yet (the ballot page says why), it goes to the ballot."""
    load(app, standard_document(utcnow()))
    ensure_key(app, "OPEN")  # OPEN2, open too, has no election key
    sign_in(client, app)
    links = _voter_links(client.get("/je-vote"))
    assert links == {
        "Scrutin de test OPEN": "/je-vote/code?next=/je-vote/OPEN",
        "Scrutin de test OPEN2": "/je-vote/OPEN2",
    }
    bounce = client.get("/je-vote/OPEN")  # where the ballot page would have sent the browser: the same place
    assert bounce.status_code == 303 and bounce.headers["Location"] == links["Scrutin de test OPEN"]
    sign_in(client, app, vote_level_age=10)
    links = _voter_links(client.get("/je-vote"))
    assert links == {"Scrutin de test OPEN": "/je-vote/OPEN", "Scrutin de test OPEN2": "/je-vote/OPEN2"}


def test_voter_not_on_the_roll_gets_404_at_the_cast_of_a_scrutin_the_process_knows(
    keyed: Flask, client: FlaskClient
) -> None:
    """The accepted ballot's path reads the scrutin from the process's catalogue, not through the voter's roll: a
    ballot that passes every check (bound to the voter's own session) is still refused with the roll's 404, by the
    cast's transaction, and so is one that fails them."""
    claire = keyed.test_client()
    sign_in(claire, keyed, vote_level_age=10)
    assert ballot_page(claire, "OPEN").response.status_code == 200  # this process's catalogue now knows OPEN
    sid = sign_in(client, keyed, email="quelqu.un@ac-exemple.fr", vote_level_age=10)
    token = csrf_of(client.get("/assistance"))
    nonce = ballot_nonce(str(keyed.config["SECRET_KEY"]), sid, "OPEN")
    for ballot in (encrypted(keyed, "OPEN", 0, nonce), encrypted(keyed, "OPEN", 0)):  # valid; wrong nonce
        answer = client.post(
            "/je-vote/OPEN/bulletin", data={"csrf_token": token, "ballot": json.dumps(ballot.to_json())}
        )
        assert answer.status_code == 404
    assert _counts(keyed) == (0, 0)


def test_a_ballot_is_not_swappable_between_options(keyed: Flask, client: FlaskClient) -> None:
    sign_in(client, keyed, vote_level_age=10)
    page = ballot_page(client, "OPEN")
    ballot = page.encrypt(0)
    swapped = dataclasses.replace(ballot, choices=(ballot.choices[1], ballot.choices[0], ballot.choices[2]))
    refused = post_ballot(client, "OPEN", page, swapped)
    assert refused.status_code == 400 and "zéro ou une voix" in text_of(refused)
    assert _counts(keyed) == (0, 0)
