"""The vote-code step driven by the OpenID Provider: a client asks for ``acr_values`` = the vote-code level, the
provider sends the browser to "Saisie du code de vote", and the ID token carries the raised ``acr`` and ``amr``."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from idp.auth.state import ACR_VOTE_CODE
from idp.db import get_db
from idp.models import Voter
from idp.votecode.service import issue_code
from idp.web import keyed_hasher
from tests.helpers import TEST_CAPTCHA, captcha_id_of, csrf_of
from tests.oidc_helpers import (
    Authorization,
    query_of,
    shows_identifier_page,
    shows_vote_code_page,
    verify,
    vote_code_action,
)

pytest_plugins = ["tests.oidc_fixtures"]


def issue(app, voter) -> str:
    with app.app_context(), get_db(app).transaction() as session:
        return issue_code(session, session.get(Voter, voter.id), "notice", hasher=keyed_hasher())


def enter_code(client, location: str, code: str):
    page = client.get(location)
    assert page.status_code == 200 and "Saisie du code de vote" in page.get_data(as_text=True)
    return client.post(
        location,
        data={"csrf_token": csrf_of(page), "captcha_id": captcha_id_of(page), "code": code, "captcha": TEST_CAPTCHA},
    )


def test_signed_in_voter_enters_the_vote_code_and_the_id_token_says_so(app, flow, rp, voters):
    voter = voters.create()
    printed = issue(app, voter)
    first = verify(flow.client, flow.tokens(rp, voter)["id_token"])
    time.sleep(1)  # so that a fresh auth_time is visibly later

    response, _, verifier = flow.start(rp, acr_values=ACR_VOTE_CODE)
    assert shows_vote_code_page(response)  # the authorization request's own answer
    location = vote_code_action(response)
    parts = urlsplit(location)
    assert parts.path == "/login/vote-code"
    assert parse_qs(parts.query)["next"][0].startswith("/authorize/resume")

    assert enter_code(flow.client, location, "ABCD-EFGH-JKMNP").status_code == 401  # still pending
    resumed = enter_code(flow.client, location, printed)
    final = flow.follow_to_client(resumed, voter)
    authorization = Authorization(final, query_of(final.headers["Location"]), verifier)
    tokens = flow.exchange(rp, authorization)
    assert tokens.status_code == 200, tokens.get_data(as_text=True)
    claims = verify(flow.client, tokens.get_json()["id_token"])
    assert claims["acr"] == ACR_VOTE_CODE and claims["amr"] == ["pwd", "otp"]
    assert claims["auth_time"] > first["auth_time"] and claims["sub"] == first["sub"]


def test_signed_out_voter_signs_in_then_enters_the_vote_code(app, flow, rp, voters):
    voter = voters.create()
    printed = issue(app, voter)
    response, _, verifier = flow.start(rp, acr_values=ACR_VOTE_CODE)
    assert shows_identifier_page(response)
    step = flow.auth.login(voter.identifier)
    # The password POST resumed the authorization request in its answer: the next screen is the vote code's.
    assert urlsplit(step.headers["Location"]).path == "/login/vote-code"
    final = flow.follow_to_client(enter_code(flow.client, step.headers["Location"], printed), voter)
    tokens = flow.exchange(rp, Authorization(final, query_of(final.headers["Location"]), verifier))
    assert verify(flow.client, tokens.get_json()["id_token"])["acr"] == ACR_VOTE_CODE
