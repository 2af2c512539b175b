"""prompt, max_age, id_token_hint and acr_values (conformance: oidcc-prompt-none-not-logged-in,
oidcc-prompt-none-logged-in, oidcc-prompt-login, oidcc-max-age-1, oidcc-max-age-10000,
oidcc-id-token-hint, oidcc-ensure-request-with-acr-values-succeeds), and the pluggable step-up."""

from __future__ import annotations

import hashlib
import html
import json
import re

import pytest
from flask import Blueprint, redirect, request

from idp.auth.state import ACR_PASSWORD, ACR_VOTE_CODE, step_up
from idp.oidc.provider import get_provider
from idp.store import get_store
from tests.oidc_helpers import (
    RP_REDIRECT,
    Authorization,
    make_client,
    query_of,
    shows_identifier_page,
    shows_vote_code_page,
    verify,
)

pytest_plugins = ["tests.oidc_fixtures"]


def age_session(app, client, seconds):
    """Make the current sign-in ``seconds`` older (what waiting would do), in the real session store."""
    sid = client.get_cookie("idp_session").value
    key = "session:" + hashlib.sha256(sid.encode()).hexdigest()
    store = get_store(app)
    entry = json.loads(store.get(key))
    entry["data"]["auth"]["auth_time"] -= seconds
    store.set(key, json.dumps(entry), 600)


def test_prompt_none_when_signed_out_is_login_required(flow, rp):
    response, params, _ = flow.start(rp, prompt="none")
    assert response.headers["Location"].startswith(RP_REDIRECT)
    query = query_of(response.headers["Location"])
    assert query["error"] == "login_required" and query["state"] == params["state"]


def test_prompt_none_when_signed_in_answers_without_any_screen(flow, rp, voters):
    voter = voters.create()
    first = flow.tokens(rp, voter)
    response, _, _ = flow.start(rp, prompt="none")
    assert response.headers["Location"].startswith(RP_REDIRECT)
    assert "code" in query_of(response.headers["Location"])
    claims = verify(flow.client, first["id_token"])
    assert claims["sub"] == voter.subject


def test_prompt_login_asks_again_and_gives_a_fresh_auth_time(app, flow, rp, voters):
    voter = voters.create()
    first = verify(flow.client, flow.tokens(rp, voter)["id_token"])
    age_session(app, flow.client, 5)
    response, _, _ = flow.start(rp, prompt="login")
    assert shows_identifier_page(response)
    second = flow.tokens(rp, voter, prompt="login")
    assert verify(flow.client, second["id_token"])["auth_time"] >= first["auth_time"]


def test_max_age_exceeded_asks_to_sign_in_again(app, flow, rp, voters):
    voter = voters.create()
    flow.tokens(rp, voter)
    age_session(app, flow.client, 10)
    response, _, _ = flow.start(rp, max_age="1")
    assert shows_identifier_page(response)
    body = flow.tokens(rp, voter, max_age="1")
    claims = verify(flow.client, body["id_token"])
    assert claims["iat"] - claims["auth_time"] <= 2


def test_max_age_exceeded_with_prompt_none_is_login_required(app, flow, rp, voters):
    flow.tokens(rp, voters.create())
    age_session(app, flow.client, 10)
    response, _, _ = flow.start(rp, max_age="1", prompt="none")
    assert query_of(response.headers["Location"])["error"] == "login_required"


def test_long_max_age_does_not_ask_again(app, flow, rp, voters):
    voter = voters.create()
    flow.tokens(rp, voter)
    age_session(app, flow.client, 10)
    response, _, _ = flow.start(rp, max_age="10000")
    assert "code" in query_of(response.headers["Location"])


def test_id_token_hint_of_the_signed_in_voter(flow, rp, voters):
    voter = voters.create()
    first = flow.tokens(rp, voter)
    response, _, _ = flow.start(rp, prompt="none", id_token_hint=first["id_token"])
    assert "code" in query_of(response.headers["Location"])


def test_id_token_hint_of_another_voter(flow, rp, voters):
    alice, bob = voters.create(), voters.create()
    hint = flow.tokens(rp, alice)["id_token"]
    flow.auth.login(bob.identifier)
    response, _, _ = flow.start(rp, prompt="none", id_token_hint=hint)
    assert query_of(response.headers["Location"])["error"] == "login_required"
    response, _, _ = flow.start(rp, id_token_hint=hint)
    assert shows_identifier_page(response)


def test_id_token_hint_for_another_client_is_refused(app, flow, rp, voters):
    other = make_client(app)
    hint = flow.tokens(other, voters.create())["id_token"]
    response, _, _ = flow.start(rp, prompt="none", id_token_hint=hint)
    assert query_of(response.headers["Location"])["error"] == "invalid_request"


def test_voter_whose_sessions_were_ended_must_sign_in_again(app, flow, rp, voters):
    from sqlalchemy import update

    from idp.db import get_db
    from idp.models import Voter

    voter = voters.create()
    flow.tokens(rp, voter)
    with app.app_context(), get_db(app).transaction() as session:
        session.execute(update(Voter).where(Voter.id == voter.id).values(session_epoch=Voter.session_epoch + 1))
    response, _, _ = flow.start(rp, prompt="none")
    assert query_of(response.headers["Location"])["error"] == "login_required"


@pytest.mark.parametrize("acr_values", ["1 2", ACR_PASSWORD, f"{ACR_PASSWORD} {ACR_VOTE_CODE}", "urn:unknown"])
def test_acr_values_the_session_meets(flow, rp, voters, acr_values):
    body = flow.tokens(rp, voters.create(), acr_values=acr_values)
    assert verify(flow.client, body["id_token"])["acr"] == ACR_PASSWORD


def test_vote_code_level_without_a_step_up_screen_is_unmet(app, flow, rp, voters):
    get_provider(app).step_up_endpoints.clear()
    flow.auth.login(voters.create().identifier)
    response, params, _ = flow.start(rp, acr_values=ACR_VOTE_CODE)
    query = query_of(response.headers["Location"])
    assert query["error"] == "unmet_authentication_requirements" and query["state"] == params["state"]


def test_real_vote_code_screen_is_what_the_provider_shows_the_voter(flow, rp, voters):
    flow.auth.login(voters.create().identifier)
    response, _, _ = flow.start(rp, acr_values=ACR_VOTE_CODE)
    # The vote-code step is /authorize's own answer; its form posts to the step's address with where to resume.
    assert shows_vote_code_page(response)
    action = re.search(r'<form method="post" action="([^"]+)"', response.get_data(as_text=True)).group(1)
    action = html.unescape(action)
    assert action.startswith("/login/vote-code?")
    assert query_of(action)["next"].startswith("/authorize/resume?tx=")


def test_vote_code_level_with_prompt_none_needs_interaction(flow, rp, voters):
    flow.auth.login(voters.create().identifier)
    response, _, _ = flow.start(rp, acr_values=ACR_VOTE_CODE, prompt="none")
    assert query_of(response.headers["Location"])["error"] == "interaction_required"


@pytest.fixture
def vote_code_screen(app):
    """A stand-in of the vote-code screen, plugged in where the provider looks for it.

    It raises the session's level the way the real screen (``stepup.vote_code``, tested with the vote codes) does,
    through ``idp.auth.state.step_up``, without asking for a code, then sends the browser where it was told to.
    """
    stepup = Blueprint("test_stepup", __name__)

    @stepup.route("/vote-code", methods=["GET", "POST"])
    def vote_code():
        step_up(acr=ACR_VOTE_CODE, amr=("pwd", "otp"))
        return redirect(request.args["next"])

    app.register_blueprint(stepup)
    get_provider(app).step_up_endpoints[ACR_VOTE_CODE] = "test_stepup.vote_code"


def test_step_up_screen_raises_the_level(flow, rp, voters, vote_code_screen):
    voter = voters.create()
    flow.tokens(rp, voter)
    response, _, verifier = flow.start(rp, acr_values=ACR_VOTE_CODE)
    location = response.headers["Location"]
    assert query_of(location)["next"].startswith("/authorize/resume?tx=")
    final = flow.follow_to_client(flow.client.get(location), voter)
    authorization = Authorization(final, query_of(final.headers["Location"]), verifier)
    tokens = flow.exchange(rp, authorization)
    assert tokens.status_code == 200, tokens.get_data(as_text=True)
    claims = verify(flow.client, tokens.get_json()["id_token"])
    assert claims["acr"] == ACR_VOTE_CODE and claims["amr"] == ["pwd", "otp"]
    # The level stays for later requests of this session that ask for it.
    response, _, _ = flow.start(rp, acr_values=ACR_VOTE_CODE, prompt="none")
    assert "code" in query_of(response.headers["Location"])


def test_step_up_screen_is_asked_for_signed_out_voters_after_sign_in(flow, rp, voters, vote_code_screen):
    voter = voters.create()
    response, _, _ = flow.start(rp, acr_values=ACR_VOTE_CODE)
    assert shows_identifier_page(response)
    # The password POST resumes the authorization request in its answer: on to the step-up screen.
    resumed = flow.auth.login(voter.identifier)
    assert resumed.headers["Location"].startswith("/vote-code?")


def test_fresh_vote_code_step_is_asked_with_the_step_up_screen_not_the_password(
    app, flow, rp, voters, vote_code_screen
):
    """acr_values=vote-code with max_age=0 for a session already at that level: the vote-code screen again."""
    voter = voters.create()
    flow.tokens(rp, voter)
    first = flow.tokens(rp, voter, acr_values=ACR_VOTE_CODE)  # steps up on the way
    age_session(app, flow.client, 5)
    response, _, _ = flow.start(rp, acr_values=ACR_VOTE_CODE, max_age="0")
    assert response.headers["Location"].startswith("/vote-code?")
    second = flow.tokens(rp, voter, acr_values=ACR_VOTE_CODE, max_age="0")
    claims = verify(flow.client, second["id_token"])
    assert claims["acr"] == ACR_VOTE_CODE
    assert claims["iat"] - claims["auth_time"] <= 2, "the step-up gave a fresh auth_time"
    assert verify(flow.client, first["id_token"])["acr"] == ACR_VOTE_CODE


def test_max_age_for_a_password_session_asks_for_the_password(app, flow, rp, voters, vote_code_screen):
    voter = voters.create()
    flow.tokens(rp, voter)
    age_session(app, flow.client, 5)
    response, _, _ = flow.start(rp, acr_values=ACR_PASSWORD, max_age="0")
    assert shows_identifier_page(response)
