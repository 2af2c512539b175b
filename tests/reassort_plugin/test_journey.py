"""The seed's journey through the OpenID Provider: a client asks for the vote-code level, the voter has lost their
notice, asks for a réassort by question défi, finds the link in the outbox, generates a code, and is back in the
authorization request; the ID token carries the vote-code level."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from idp.auth.state import ACR_VOTE_CODE
from tests.helpers import TEST_CAPTCHA, captcha_id_of, csrf_of
from tests.oidc_helpers import Authorization, query_of, shows_vote_code_page, verify, vote_code_action
from tests.reassort_plugin.helpers import CODE_CHOICE, ReassortActions, last_link, shown_code

pytest_plugins = ["tests.oidc_fixtures"]


def test_a_voter_without_their_notice_gets_a_code_and_completes_the_step_up(app, flow, rp, voters):
    voter = voters.create()  # no code printed for them at all: the notice was lost
    flow.tokens(rp, voter)  # signed in at the password level
    response, _, verifier = flow.start(rp, acr_values=ACR_VOTE_CODE)
    # The vote-code step in the authorization request's own answer: the plugin still notes where it resumes.
    assert shows_vote_code_page(response)
    step = vote_code_action(response)
    resume = parse_qs(urlsplit(step).query)["next"][0]
    page = response.get_data(as_text=True)
    assert f'href="{CODE_CHOICE}">Cliquez ici pour obtenir un réassort de votre code de vote</a>' in page

    assert flow.client.get(CODE_CHOICE).status_code == 200
    reassort = ReassortActions(flow.client)
    assert reassort.ask_code().status_code == 200
    reassort.generate(last_link(app))
    code = shown_code(flow.client.get("/reassort/code/nouveau-code"))
    back = reassort.noted().headers["Location"]
    assert parse_qs(urlsplit(back).query)["next"] == [resume]

    form = flow.client.get(back)
    resumed = flow.client.post(
        back,
        data={"csrf_token": csrf_of(form), "captcha_id": captcha_id_of(form), "code": code, "captcha": TEST_CAPTCHA},
    )
    # The vote-code POST resumes the authorization request in its answer: straight to the client.
    assert resumed.headers["Location"].startswith(rp.redirect_uri)
    final = flow.follow_to_client(resumed, voter)
    tokens = flow.exchange(rp, Authorization(final, query_of(final.headers["Location"]), verifier))
    claims = verify(flow.client, tokens.get_json()["id_token"])
    assert claims["acr"] == ACR_VOTE_CODE and claims["amr"] == ["pwd", "otp"]
