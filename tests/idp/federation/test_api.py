"""The Python API other parts of the IdP use (the réassort plugin, through idp.plugin_api): ``start`` and
``take_match``, exercised by a small blueprint registered the way a plugin registers its own."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from flask import Blueprint, Flask, jsonify, url_for
from flask.testing import FlaskClient
from werkzeug.wrappers import Response

from idp import federation
from tests.helpers import AuthActions, VoterFactory
from tests.idp.federation.helpers import FederationActions, claire, events, path_of

CHOICE = "/essai/choix"
AFTER = "/essai/apres"


def _caller() -> Blueprint:
    bp = Blueprint("essai", __name__)

    @bp.get(CHOICE)
    def choice() -> Any:
        return federation.start(url_for("essai.after"), "reassort", back_url=url_for("essai.choice"))

    @bp.get("/essai/autre")
    def other_purpose() -> Response:
        return jsonify(match=federation.take_match("autre") is not None)

    @bp.get(AFTER)
    def after() -> Response:
        match = federation.take_match("reassort")
        if match is None:
            return jsonify(match=None)
        return jsonify(match={"voter_id": match.voter_id, "subject": match.subject, "purpose": match.purpose})

    return bp


@pytest.fixture
def app(app: Flask) -> Flask:
    app.register_blueprint(_caller())
    return app


def test_match_is_handed_over_once(
    app: Flask, fc: FederationActions, voters: VoterFactory, client: FlaskClient
) -> None:
    voter = claire(voters)
    answer = fc.identify("claire-jullien", start_path=CHOICE)
    assert answer.status_code == 302
    assert answer.headers["Location"] == AFTER
    assert client.get(AFTER).get_json() == {
        "match": {"voter_id": voter.id, "subject": voter.subject, "purpose": "reassort"}
    }
    assert client.get(AFTER).get_json() == {"match": None}
    assert client.get("/").status_code == 302  # a match is not a sign-in
    started = [e for e in events(app) if e["type"] == "federation.started"]
    assert started[0]["purpose"] == "reassort" and started[0]["subject"] is None


def test_match_is_for_its_purpose_and_browser(
    app: Flask, fc: FederationActions, voters: VoterFactory, client: FlaskClient
) -> None:
    claire(voters)
    fc.identify("claire-jullien", start_path=CHOICE)
    other = app.test_client()
    assert other.get(AFTER).get_json() == {"match": None}
    # Another purpose takes nothing, and leaves the match in place.
    assert client.get("/essai/autre").get_json() == {"match": False}
    assert client.get(AFTER).get_json()["match"] is not None


def test_signed_in_voter_is_named_in_the_audit(
    app: Flask, fc: FederationActions, voters: VoterFactory, auth: AuthActions
) -> None:
    voter = claire(voters)
    auth.login(voter.identifier)
    fc.identify("claire-jullien", start_path=CHOICE)
    started = [e for e in events(app) if e["type"] == "federation.started"]
    assert started[0]["subject"] == voter.subject


def test_failure_leads_back_to_the_caller(
    app: Flask, fc: FederationActions, voters: VoterFactory, client: FlaskClient
) -> None:
    voters.create(family_name="AUTRE", first_names="Personne", birth_date=dt.date(1970, 1, 2))
    answer = fc.identify("claire-jullien", start_path=CHOICE)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 403
    assert f'href="{CHOICE}"' in body
    assert "Revenir à la page précédente" in body
    assert client.get(AFTER).get_json() == {"match": None}


def test_a_newer_match_replaces_the_older(
    app: Flask, fc: FederationActions, voters: VoterFactory, client: FlaskClient, browser: requests.Session
) -> None:
    claire(voters)
    sophie = voters.create(
        "sophie.martin@ac-paris.fr",
        family_name="MARTIN",
        first_names="Sophie Marie",
        birth_date=dt.date(1982, 4, 15),
        birthplace="75115",
    )
    fc.identify("claire-jullien", start_path=CHOICE)
    fc.identify("sophie-martin-1982", start_path=CHOICE)
    assert client.get(AFTER).get_json()["match"]["subject"] == sophie.subject
    assert client.get(AFTER).get_json() == {"match": None}


def test_arguments_are_checked(app: Flask) -> None:
    with app.test_request_context():
        with pytest.raises(ValueError, match="paths of this site"):
            federation.start("https://ailleurs.example/", "reassort")
        with pytest.raises(ValueError, match="purpose"):
            federation.start("/essai/apres", "Réassort !")
        assert federation.take_match("reassort") is None
        assert federation.is_enabled()


def test_disabled(make_app: Any) -> None:
    disabled = make_app(FC_ENABLED=False)
    disabled.register_blueprint(_caller())
    client = disabled.test_client()
    answer = client.get(CHOICE)
    assert answer.status_code == 404
    assert "FC-00" in answer.get_data(as_text=True)
    with disabled.test_request_context():
        assert not federation.is_enabled()


def test_another_process_receives_the_callback(
    app: Flask, make_app: Any, fc: FederationActions, voters: VoterFactory, client: FlaskClient
) -> None:
    """Stateless processes: the route starts in one IdP process and ends in another sharing the database and the
    store (the same browser, hence the same session cookie)."""
    voter = claire(voters)
    started = client.get(CHOICE)
    location = fc.pick(started.headers["Location"], "claire-jullien")
    second = make_app()
    second.register_blueprint(_caller())
    other_process = second.test_client()
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    other_process.set_cookie(cookie.key, cookie.value)
    assert other_process.get(path_of(location)).headers["Location"] == AFTER
    assert client.get(AFTER).get_json()["match"]["subject"] == voter.subject
