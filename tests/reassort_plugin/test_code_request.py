"""Seed steps 6 and 7: "Choix du réassort de votre code de vote" and "Demande de réassort du code de vote"."""

from __future__ import annotations

from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from idp.db import get_db
from idp.models import OneTimeLink, OutboxMessage
from reassort_plugin.choices import Choice, add_choice
from tests.helpers import AuthActions, outbox_messages
from tests.reassort_plugin.helpers import (
    CODE_CHOICE,
    CODE_REQUEST,
    LOCKED,
    MOBILE,
    PERSONAL_EMAIL,
    WRONG,
    ReassortActions,
    data_of,
    events,
    types,
)


def count(app, model) -> int:
    with get_db(app).transaction() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def text(response) -> str:
    """The page with HTML entities decoded (Jinja escapes apostrophes)."""
    return unescape(response.get_data(as_text=True))


# --- the choice page -------------------------------------------------------------------------------------------


def test_the_choice_needs_a_signed_in_voter(client):
    response = client.get(CODE_CHOICE)
    location = urlsplit(response.headers["Location"])
    assert response.status_code == 302 and location.path == "/login"
    assert parse_qs(location.query)["next"] == [CODE_CHOICE]
    assert urlsplit(client.get(CODE_REQUEST).headers["Location"]).path == "/login"


def test_the_choice_offers_the_question_defi_only_until_franceconnect_is_built(client, signed_in):
    client.get("/login/vote-code?next=/authorize/resume%3Ftx%3Dabc")  # where the voter came from
    page = text(client.get(CODE_CHOICE))
    assert "<h1>Choix du réassort de votre code de vote</h1>" in page
    assert "Veuillez choisir le mode de récupération de votre code de vote :" in page
    assert "Répondre à votre question Défi avec votre réponse secrète :" in page
    assert f'<a href="{CODE_REQUEST}">cliquez ici</a>' in page
    assert "FranceConnect" not in page and "OU" not in page
    assert 'href="/login/vote-code?next=/authorize/resume?tx%3Dabc">Retour</a>' in page


def test_another_route_registered_at_the_extension_point_is_offered_after_an_or(app, client, signed_in):
    add_choice(
        app,
        Choice(
            key="franceconnect",
            endpoint="login.identifier",
            text="Utiliser les fonctionnalités d'authentification offertes par FranceConnect :",
            label="S'identifier avec FranceConnect",
            more=("Qu'est-ce que FranceConnect ?", "#"),
        ),
    )
    page = text(client.get(CODE_CHOICE))
    assert page.index("question Défi") < page.index(">OU<") < page.index("offertes par FranceConnect")
    assert '<a href="/login">S\'identifier avec FranceConnect</a>' in page
    with pytest.raises(ValueError):
        add_choice(app, Choice(key="franceconnect", endpoint="login.identifier", text="", label=""))


# --- the request page ------------------------------------------------------------------------------------------


def test_the_request_page_shows_the_voters_own_question_and_the_seed_texts(app, client, voters):
    voter = voters.create(challenge_question="first_pet")
    AuthActions(client).login(voter.identifier)
    page = text(client.get(CODE_REQUEST))
    assert "<h1>Demande de réassort du code de vote</h1>" in page
    assert "Votre question Défi :<br><strong>Quel était le nom de votre premier animal de compagnie ?</strong>" in page
    assert "équipe de football" not in page  # no list of questions: the voter is known
    for seed_text in (
        "* : champ obligatoire",
        "Saisissez votre réponse secrète :",
        "Saisissez votre NUMEN ou n°SS (10 premiers caractères) :",
        "Envoi du lien d'activation par SMS sur votre smartphone personnel",
        "Envoi du lien d'activation par E-MAIL sur votre messagerie personnelle",
        "n'est pas enregistré en base\n    de données par la solution de vote électronique",
        ">Retour</a>",
        ">Envoyer</button>",
    ):
        assert seed_text in page, seed_text


def test_an_email_request_sends_a_link_to_the_personal_address(app, client, signed_in, reassort):
    response = reassort.ask_code()
    assert response.status_code == 200
    assert "Un lien vient de vous être envoyé par e-mail à <strong>c•••@example.org</strong>" in text(response)
    [message] = outbox_messages(app)
    assert (message.channel, message.recipient) == ("email", PERSONAL_EMAIL)
    assert message.subject == "Portail Élections : votre lien pour obtenir un nouveau code de vote"
    assert "« Générer un code »" in message.body and "valable 30\u00a0minutes" in message.body
    assert "http://localhost/reassort/code/lien/E" in message.body
    assert types(app) == ["reassort.requested", "reassort.link_sent"]
    sent = data_of(events(app)[-1])
    assert sent["channel"] == "email" and sent["kind"] == "code" and sent["expires_in"] == 1800


@pytest.mark.parametrize("typed", [MOBILE, "0639981234", "+33 6 39 98 12 34", "+33 (0)6 39 98 12 34", "0033639981234"])
def test_an_sms_request_accepts_the_national_and_plus_33_forms(app, client, signed_in, reassort, typed):
    response = reassort.ask_code(channel="sms", phone=typed, email="")
    assert response.status_code == 200 and "par SMS au <strong>06 •• •• •• 34</strong>" in text(response)
    [message] = outbox_messages(app)
    assert (message.channel, message.recipient) == ("sms", "0639981234")
    assert "Générer un code" in message.body and "valable 30\u00a0min" in message.body
    assert "/reassort/code/lien/S" in message.body


def test_the_nir_prefix_is_accepted_instead_of_the_numen(app, client, signed_in, reassort):
    assert reassort.ask_code(identity="2 85 07 21 231").status_code == 200
    assert count(app, OneTimeLink) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"identity": ""}, "Ce champ est obligatoire."),
        ({"identity": "12A34567B9ABC"}, "NUMEN invalide : le caractère 9 doit être un chiffre."),
        ({"identity": "12A345678ABC"}, "NUMEN invalide : 13 caractères attendus"),
        ({"identity": "5850721231"}, "NIR invalide : le caractère 1 (sexe) doit être 1 ou 2"),
        ({"identity": "2851321231"}, "les caractères 4 et 5 (mois de naissance) doivent valoir"),
        ({"identity": "2850700231"}, "les caractères 6 et 7 (département de naissance) doivent valoir 01 à 99, 2A"),
        ({"identity": "2850721231123"}, "ne donnez que les 10 premiers"),
        ({"channel": ""}, "Choisissez le canal d'envoi du lien : SMS ou E-MAIL."),
        ({"email": ""}, "Saisissez votre adresse mail personnelle pour recevoir le lien par e-mail."),
        ({"email": "camille.perso@"}, "Adresse mail invalide"),
        ({"email": "camille@exemple"}, "Adresse mail invalide"),
        ({"email": "camille.testeur1@ac-exemple.fr"}, "Cette adresse est votre identifiant du portail Élections"),
        ({"email": "c.t@ac-dijon.fr"}, "Cette adresse est une messagerie académique ou professionnelle"),
        ({"email": "c.t@etu.ac-lyon.fr"}, "Cette adresse est une messagerie académique ou professionnelle"),
        ({"channel": "sms", "phone": ""}, "Saisissez le numéro de votre téléphone portable pour recevoir le lien"),
        ({"channel": "sms", "phone": "01 99 00 12 34"}, "Numéro de téléphone portable invalide"),
        ({"channel": "sms", "phone": "06 39 98 12"}, "Numéro de téléphone portable invalide"),
        ({"channel": "sms", "phone": "+44 7700 900123"}, "Numéro de téléphone portable invalide"),
    ],
)
def test_malformed_fields_get_a_precise_message_and_are_not_counted(app, client, signed_in, reassort, fields, message):
    response = reassort.ask_code(**fields)
    assert response.status_code == 400
    assert message in text(response)
    assert count(app, OutboxMessage) == 0
    assert types(app) == ["reassort.rejected"]
    assert data_of(events(app)[0])["reason"] == "format"


def test_identifier_domain_is_no_personal_address(app, client, voters):
    voter = voters.create("dominique.essai@education.example.fr")
    AuthActions(client).login(voter.identifier)
    response = ReassortActions(client).ask_code(email="d.essai@education.example.fr")
    assert response.status_code == 400 and "messagerie académique ou professionnelle" in text(response)


@pytest.mark.parametrize(
    "wrong",
    [{"answer": "Les Dogues de Nulle-Part"}, {"identity": "99Z9999999ZZZ"}, {"identity": "1850721231"}],
    ids=["answer", "numen", "nir"],
)
def test_any_mismatch_gets_the_one_uniform_answer_and_is_counted(app, client, signed_in, reassort, wrong):
    response = reassort.ask_code(**wrong)
    assert response.status_code == 401
    page = text(response)
    assert WRONG in page
    assert "Vérifiez votre réponse secrète et votre NUMEN ou n°SS (10 premiers caractères), puis réessayez." in page
    assert count(app, OutboxMessage) == 0 and count(app, OneTimeLink) == 0
    assert types(app) == ["reassort.requested", "reassort.failed"]
    # The secrets typed are not sent back.
    assert 'name="answer" required type="text" value=""' in page


def test_answers_are_compared_without_case_accents_or_spaces(client, signed_in, reassort):
    assert reassort.ask_code(answer="  les canaris DE nulle part ").status_code == 200


class TestLockout:
    @pytest.fixture
    def app_config(self, app_config: dict[str, Any]) -> dict[str, Any]:
        return {
            **app_config,
            "REASSORT_LOCKOUT_THRESHOLD": 3,
            "REASSORT_LOCKOUT_DURATION": 1800,
            "REASSORT_IP_THRESHOLD": 5,
        }

    def test_repeated_failures_lock_the_voter_who_is_told_when_to_retry(self, app, client, signed_in, reassort):
        assert reassort.ask_code(answer="non").status_code == 401
        assert reassort.ask_code(identity="99Z9999999ZZZ").status_code == 401
        locked = reassort.ask_code(answer="toujours non")
        assert locked.status_code == 429
        assert LOCKED in text(locked) and "Réessayez dans 30\u00a0minutes, à partir de" in text(locked)
        # Even the right answers are refused while locked, and the form says so when shown.
        assert reassort.ask_code().status_code == 429
        assert LOCKED in text(client.get(CODE_REQUEST))
        assert count(app, OutboxMessage) == 0
        assert types(app)[-2:] == ["reassort.locked", "reassort.throttled"]
        lock = next(e for e in events(app) if e.type == "reassort.locked")
        assert lock.subject == signed_in.subject
        assert data_of(lock) == {"scope": "voter", "duration": 1800}

    def test_a_success_resets_the_count(self, app, client, signed_in, reassort):
        for _ in range(2):
            assert reassort.ask_code(answer="non").status_code == 401
        assert reassort.ask_code().status_code == 200
        for _ in range(2):
            assert reassort.ask_code(answer="non").status_code == 401

    def test_failures_from_one_address_lock_it_for_every_voter(self, app, voters):
        for n in range(2):
            other = app.test_client()
            AuthActions(other).login(voters.create().identifier)
            for _ in range(2 if n == 0 else 3):
                ReassortActions(other).ask_code(answer="non")
        last = app.test_client()
        AuthActions(last).login(voters.create().identifier)
        response = ReassortActions(last).ask_code()
        assert response.status_code == 429 and LOCKED in text(response)
        [lock] = [e for e in events(app) if e.type == "reassort.locked" and data_of(e)["scope"] == "address"]
        assert lock.subject is None and "127.0.0.1" not in lock.data and len(data_of(lock)["address"]) == 32


class TestLinksPerHour:
    @pytest.fixture
    def app_config(self, app_config: dict[str, Any]) -> dict[str, Any]:
        return {**app_config, "REASSORT_LINKS_PER_HOUR": 2}

    def test_a_voter_is_not_sent_more_links_than_allowed_in_an_hour(self, app, client, signed_in, reassort):
        assert reassort.ask_code().status_code == 200
        assert reassort.ask_code(channel="sms", phone=MOBILE).status_code == 200
        refused = reassort.ask_code()
        assert refused.status_code == 429 and "Plusieurs liens vous ont déjà été envoyés dans l'heure" in text(refused)
        assert count(app, OutboxMessage) == 2
        assert data_of(events(app)[-1]) == {"kind": "code", "channel": "email", "reason": "links_per_hour"}


def test_nir_with_corsica_department_is_well_formed(app, client, signed_in, reassort):
    response = reassort.ask_code(identity="185072A004")
    assert response.status_code == 401  # well formed (2A: Corse-du-Sud), but not this voter's


def test_audit_events_name_the_channel_never_the_address_or_number(app, client, signed_in, reassort):
    reassort.ask_code(answer="non")
    reassort.ask_code()
    reassort.ask_code(channel="sms", phone=MOBILE, email="")
    for event in events(app):
        assert PERSONAL_EMAIL not in event.data and "0639981234" not in event.data and "39 98" not in event.data
        if event.type in {"reassort.requested", "reassort.failed", "reassort.link_sent"}:
            assert data_of(event)["channel"] in {"sms", "email"}
