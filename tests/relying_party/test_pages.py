"""The portal's pages, in French, accessible, and never an error page for a missing session."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from relying_party.db import get_db
from relying_party.elections.pdf import simple_pdf
from relying_party.models import Complaint, OutboxMessage, SupportRequest, utcnow
from tests.relying_party.helpers import CLAIRE, captcha_fields, csrf_of, load, sign_in, standard_document, text_of


def test_home_before_sign_in(client: FlaskClient) -> None:
    response = client.get("/")
    page = text_of(response)
    assert response.status_code == 200
    assert '<html lang="fr">' in page
    assert "Accéder au portail Élections" in page and 'href="/connexion"' in page
    for link in (
        "Édito",
        "Aide en ligne – Foire aux questions",
        "Formulaire de demande d'assistance",
        "Accéder au tutoriel en ligne « Parcours électeur »",
    ):
        assert link in page
    assert 'role="main"' in page and 'role="banner"' in page and 'role="contentinfo"' in page


def test_signed_in_home_follows_the_seed(app: Flask, client: FlaskClient) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app)
    page = text_of(client.get("/"))
    for text in (
        "Bienvenue sur votre portail Élections",
        "Mes informations pratiques",
        "Mes scrutins",
        "Consulter les listes électorales de mes scrutins",
        "Consulter mes scrutins (ceux pour lesquels je suis électeur) et leurs listes de candidats",
        "Formuler une réclamation",
        "Mon compte",
        "Mme JULLIEN CLAIRE",
        "Mes informations personnelles",
        "Je vote",
        "Consulter les scrutins, les candidatures et voter",
        "Fermeture du vote dans",
        'data-label="days"',
        'data-label="hours"',
        'data-label="minutes"',
        "(Heure de Paris)",
    ):
        assert text in page, text
    # Rendered on the server: 7 days left (the scrutin closes in seven days) shows "07" or "06" days.
    assert re.search(r'data-unit="days">0[67]<', page)
    # Kept live by a static script only (CSP script-src 'self'): no inline script.
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/assets/portal/countdown.js" defer>']
    assert 'role="timer"' in page and 'aria-live="polite"' in page
    script = client.get("/assets/portal/countdown.js")
    assert script.status_code == 200 and "aria" not in script.mimetype and b"Fermeture du vote dans" in script.data
    script.close()


def test_my_scrutins_lists_candidates_and_profession_de_foi(app: Flask, client: FlaskClient, tmp_path) -> None:
    document = standard_document(utcnow())
    (tmp_path / "a.pdf").write_bytes(simple_pdf(["Profession de foi fictive"]))
    document["scrutins"][0]["lists"][0]["profession_de_foi"] = "a.pdf"
    load(app, document, tmp_path)
    sign_in(client, app)
    page = text_of(client.get("/mes-scrutins"))
    assert "Mes scrutins et leurs listes de candidats" in page
    assert "Liste n° 1 : Syndicat fictif A" in page and "Mme CANDIDATE1 Alice" in page
    assert "CSA ministériel" in page and "Ouvert du " in page
    pdf = client.get("/mes-scrutins/OPEN/listes/1/profession-de-foi.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    assert client.get("/mes-scrutins/OPEN/listes/2/profession-de-foi.pdf").status_code == 404


def test_electoral_rolls_of_my_scrutins(app: Flask, client: FlaskClient) -> None:
    document = standard_document(utcnow())
    document["scrutins"][0]["roll"] += [
        {"identifier": f"x{n:03d}@ac-dijon.fr", "display_name": f"M. X{n:03d}"} for n in range(60)
    ]
    load(app, document)
    sign_in(client, app)
    rolls = text_of(client.get("/mes-scrutins/listes-electorales"))
    assert "vous y figurez sous le nom" in rolls and "Mme JULLIEN Claire" in rolls
    first = text_of(client.get("/mes-scrutins/OPEN/liste-electorale"))
    assert "62 électeur(s)" in first and "Page 1 sur 2" in first and "Page suivante" in first
    second = text_of(client.get("/mes-scrutins/OPEN/liste-electorale?page=2"))
    assert "Page 2 sur 2" in second
    assert client.get("/mes-scrutins/NOT-MINE/liste-electorale").status_code == 404


def test_account_and_personal_information(app: Flask, client: FlaskClient) -> None:
    sign_in(client, app)
    assert "Mme JULLIEN CLAIRE" in text_of(client.get("/mon-compte"))
    page = text_of(client.get("/mon-compte/informations-personnelles"))
    assert "Mes informations personnelles" in page and CLAIRE in page and "Dijon" in page
    assert "21 juillet 1985" in page


def test_practical_information_pages(client: FlaskClient) -> None:
    assert "Édito" in text_of(client.get("/informations/edito"))
    assert "Quel est mon identifiant électeur ?" in text_of(client.get("/informations/faq"))
    for name, title in (
        ("parcours-electeur", "Parcours électeur"),
        ("parcours-de-vote", "Parcours de vote"),
        ("reassorts", "Réassorts"),
    ):
        assert f"Tutoriel « {title} »" in text_of(client.get(f"/informations/tutoriels/{name}"))
    missing = client.get("/informations/tutoriels/inconnu")
    assert missing.status_code == 404 and "Page introuvable" in text_of(missing)


def test_missing_session_goes_back_to_sign_in(client: FlaskClient) -> None:
    for path in ("/mes-scrutins", "/je-vote", "/mon-compte", "/je-vote/OPEN", "/mes-scrutins/reclamation"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == f"/connexion?next={path}", path


def test_expired_session_on_a_form_goes_back_to_sign_in(app: Flask, client: FlaskClient) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app, vote_level_age=10)
    token = csrf_of(client.get("/je-vote/OPEN"))
    client.delete_cookie(app.config["SESSION_COOKIE_NAME"], domain="localhost")
    response = client.post("/je-vote/OPEN/bulletin", data={"csrf_token": token, "choice": "blanc"})
    assert response.status_code == 302 and response.headers["Location"] == "/connexion"


def test_assistance_form_errors_are_french_and_tied_to_fields(client: FlaskClient) -> None:
    page = client.get("/assistance")
    response = client.post(
        "/assistance", data={"csrf_token": csrf_of(page), **captcha_fields(page), "contact_email": "pas une adresse"}
    )
    text = text_of(response)
    assert response.status_code == 400
    assert "Le formulaire contient 4 erreur(s)" in text
    assert "Indiquez votre nom et votre prénom." in text
    assert "Saisissez une adresse électronique valide" in text
    assert "Choisissez l'objet de votre demande." in text
    assert 'id="contact_name" name="contact_name"' in text or 'id="contact_name"' in text
    assert re.search(
        r'aria-describedby="contact_name-error"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*'
        r'aria-describedby="contact_name-error"',
        text,
    )
    assert 'id="contact_name-error"' in text and 'href="#contact_name"' in text
    assert 'for="contact_name"' in text


def test_assistance_request_is_stored_and_queued(app: Flask, client: FlaskClient) -> None:
    page = client.get("/assistance")
    response = client.post(
        "/assistance",
        data={
            "csrf_token": csrf_of(page),
            **captcha_fields(page),
            "contact_name": "Camille Exemple",
            "contact_email": "camille@exemple.fr",
            "academie": "Dijon",
            "topic": "code_de_vote",
            "message": "Je n'ai pas reçu ma notice de vote.",
        },
    )
    text = text_of(response)
    assert response.status_code == 200
    reference = re.search(r'class="reference">(AST-[A-Z0-9]{4}-[A-Z0-9]{4})<', text)
    assert reference, text
    with get_db(app).reader() as session:
        stored = session.execute(select(SupportRequest)).scalar_one()
        queued = session.execute(select(OutboxMessage)).scalar_one()
    assert stored.reference == reference.group(1) and stored.voter_identifier is None
    assert queued.recipient == app.config["SUPPORT_EMAIL"] and reference.group(1) in queued.subject
    assert "Code de vote (notice non reçue, réassort)" in queued.body and queued.status == "pending"


def test_complaint_is_stored_with_a_reference_shown_to_the_voter(app: Flask, client: FlaskClient) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app)
    page = client.get("/mes-scrutins/reclamation")
    assert "Scrutin de test OPEN" in text_of(page)
    response = client.post(
        "/mes-scrutins/reclamation",
        data={
            "csrf_token": csrf_of(page),
            "scrutin": "OPEN",
            "topic": "inscription",
            "message": "Mon nom d'usage n'apparaît pas sur la liste.",
        },
    )
    text = text_of(response)
    reference = re.search(r'class="reference">(REC-[A-Z0-9]{4}-[A-Z0-9]{4})<', text)
    assert reference and "Votre réclamation a bien été enregistrée" in text
    with get_db(app).reader() as session:
        complaint = session.execute(select(Complaint)).scalar_one()
    assert complaint.reference == reference.group(1) and complaint.voter_identifier == CLAIRE
    assert complaint.scrutin_id is not None


def test_security_headers_and_health(client: FlaskClient) -> None:
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "form-action 'self' http://127.0.0.1:9" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "store": "ok"},
    }


def test_two_instances_share_sessions(app: Flask, make_portal, client: FlaskClient) -> None:
    sid = sign_in(client, app)
    other = make_portal().test_client()
    other.set_cookie(app.config["SESSION_COOKIE_NAME"], sid, domain="localhost")
    assert "Mme JULLIEN CLAIRE" in text_of(other.get("/mon-compte"))


def test_sign_in_problems_land_on_the_home_page_with_a_message(client: FlaskClient) -> None:
    # The IdP of these tests does not answer: no error page, a French message on the home page.
    start = client.get("/connexion")
    assert start.status_code == 302 and start.headers["Location"] == "/"
    assert "Le service de connexion est momentanément indisponible." in text_of(client.get("/"))
    # A return from the IdP that this session did not start (stale tab, forged link).
    stale = client.get("/connexion/retour?code=abc&state=inconnu")
    assert stale.status_code == 302 and stale.headers["Location"] == "/"
    assert "La connexion au portail Élections n'a pas abouti ou a expiré." in text_of(client.get("/"))
