"""The testers' login page: citizens, scenarios, CSRF, single answer, cancel."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.fc_dev_provider.helpers import CLIENT_A, FcActions, query_of


def test_page_is_marked_as_a_development_provider_and_lists_the_citizens(fc: FcActions) -> None:
    _, page = fc.login_page(scope="openid identite_pivot email")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    banner = "Fournisseur d'identité de développement — ne pas utiliser en production"
    assert banner in html.replace("&#39;", "'")
    assert "Service A" in html
    labels = ("Prénoms", "Nom de naissance", "Date de naissance", "Lieu de naissance", "Adresse électronique")
    for label in labels:
        assert label in html, label
    assert "usage" not in html.split("<form")[0], "preferred_username was not requested"
    assert 'value="claire-jullien"' in html
    assert "Claire JULLIEN" in html
    assert "le 21/07/1985" in html
    assert '<select id="scenario" name="scenario"' in html
    assert "userinfo 503" in html  # Thomas Girard's default scenario is shown


def test_security_headers_allow_the_form_to_lead_to_registered_clients(fc: FcActions) -> None:
    _, page = fc.login_page()
    csp = page.headers["Content-Security-Policy"]
    assert "form-action 'self'" in csp
    assert "https://service-a.example" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["Cache-Control"] == "no-store"


def test_posting_without_csrf_token_is_refused(fc: FcActions, client: FlaskClient) -> None:
    page_url, _ = fc.login_page()
    response = client.post(page_url, data={"citizen": "claire-jullien"})
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_a_login_request_gets_one_answer(fc: FcActions) -> None:
    page_url, page = fc.login_page()
    assert fc.answer(page_url, page, citizen="claire-jullien").status_code == 302
    again = fc.answer(page_url, page, citizen="marc-antoine-durand")
    assert again.status_code == 400
    assert "expiré" in again.get_data(as_text=True)
    assert fc.client.get(page_url).status_code == 400


def test_cancel_returns_access_denied_with_state(fc: FcActions) -> None:
    params = fc.authorization_params()
    page_url, page = fc.login_page(**params)
    response = fc.answer(page_url, page, action="annuler")
    assert response.headers["Location"].startswith(CLIENT_A["redirect_uris"][0])
    callback = query_of(response)
    assert callback["error"] == "access_denied"
    assert callback["state"] == params["state"]
    assert "code" not in callback


def test_unknown_citizen_is_refused(fc: FcActions) -> None:
    page_url, page = fc.login_page()
    response = fc.answer(page_url, page, citizen="personne")
    assert response.status_code == 400
    # The request is still pending: the tester can pick a real citizen.
    assert fc.answer(page_url, page, citizen="claire-jullien").status_code == 302
