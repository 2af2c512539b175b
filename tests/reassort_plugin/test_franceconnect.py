# ruff: noqa: F811 - the federation's fixtures are imported below, and the tests name them as parameters
"""The vote-code réassort through FranceConnect (seed: « Utiliser les fonctionnalités d'authentification offertes
par FranceConnect, en cliquant sur le logo »), against the development provider served live on 127.0.0.1: a match
of the signed-in voter goes straight to "Générer un code", under the rules of the défi route (window, lockout)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from html import unescape
from urllib.parse import quote, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from idp.db import get_db
from idp.federation.errors import FAULTS
from idp.models import AuditEvent, OneTimeLink, Voter
from idp.votecode import codes
from idp.votecode.service import code_matches, issue_code
from idp.web import keyed_hasher
from tests.helpers import TEST_CAPTCHA, AuthActions, VoterFactory, captcha_id_of, csrf_of

# The federation's fixtures, on the réassort plugin's app_config (tests/reassort_plugin/conftest.py): the live
# development provider, the federation's settings pointing at it, the browser at the provider and its actions.
from tests.idp.federation.conftest import FcServer, app_config, browser, fc, fc_server  # noqa: F401 - fixtures
from tests.idp.federation.helpers import FederationActions, claire, path_of
from tests.idp.federation.helpers import events as federation_events
from tests.reassort_plugin.helpers import (
    CODE_CHOICE,
    CODE_REQUEST,
    CODE_SHOWN,
    LOCKED,
    ReassortActions,
    data_of,
    events,
    shown_code,
    types,
)

FC_START = "/reassort/code/franceconnect"
FC_AFTER = "/reassort/code/franceconnect/retour"
FC_GENERATE = "/reassort/code/franceconnect/code"
NEXT = "/authorize/resume?tx=abc"
SEED_TEXT = "Utiliser les fonctionnalités d'authentification offertes par FranceConnect, en cliquant sur le logo"
OTHER_VOTER = "L'identité transmise par FranceConnect n'est pas celle de l'électeur connecté à ce portail"
SEALED = "2022-11-30T08:00:00+01:00"
CLOSED = "2022-12-08T17:00:00+01:00"


@pytest.fixture
def signed_in_claire(voters: VoterFactory, auth: AuthActions) -> Voter:
    """The seed's voter, signed in at the password level (the vote-code réassort starts there)."""
    voter = claire(voters)
    assert auth.login(voter.identifier).status_code == 302
    return voter


def sophie(voters: VoterFactory) -> Voter:
    """Another voter, whom the provider's citizen sophie-martin-1982 designates."""
    return voters.create(
        "sophie.martin@ac-paris.fr",
        family_name="MARTIN",
        first_names="Sophie Marie",
        birth_date=dt.date(1982, 4, 15),
        birthplace="75115",
    )


def page(response: TestResponse) -> str:
    return unescape(response.get_data(as_text=True))


def notice_code(app: Flask, voter: Voter) -> str:
    with app.app_context(), get_db(app).transaction() as session:
        row = session.get(Voter, voter.id)
        assert row is not None
        return issue_code(session, row, "notice", hasher=keyed_hasher())


def is_current(app: Flask, voter: Voter, printed: str) -> bool:
    canonical = codes.normalise(printed)
    assert canonical is not None
    with app.app_context(), get_db(app).transaction() as session:
        return code_matches(session, keyed_hasher(), voter.id, canonical)


def link_rows(app: Flask) -> list[OneTimeLink]:
    with get_db(app).transaction() as session:
        rows = list(session.execute(select(OneTimeLink).order_by(OneTimeLink.id)).scalars())
        session.expunge_all()
        return rows


def codes_issued(app: Flask) -> int:
    with get_db(app).transaction() as session:
        return len(session.execute(select(AuditEvent).where(AuditEvent.type == "votecode.issued")).all())


def back_from_provider(fc: FederationActions, citizen: str, scenario: str = "aucun") -> TestResponse:
    """Choose FranceConnect on the choice page, pick ``citizen`` on the provider's page: the IdP's callback."""
    return fc.identify(citizen, scenario, start_path=FC_START)


def test_claire_gets_a_code_through_franceconnect_and_votes_with_it(
    app: Flask, client: FlaskClient, signed_in_claire: Voter, fc: FederationActions
) -> None:
    voter = signed_in_claire
    printed = notice_code(app, voter)
    client.get(f"/login/vote-code?next={quote(NEXT, safe='/')}")
    choice = page(client.get(CODE_CHOICE))
    assert choice.index("Répondre à votre question Défi") < choice.index(">OU<") < choice.index(SEED_TEXT)
    assert f'<a class="reassort-fc-button" href="{FC_START}">' in choice
    assert '<span class="reassort-fc-text">S\'identifier avec FranceConnect</span>' in choice
    more = 'href="https://franceconnect.gouv.fr/" target="_blank" rel="noopener">Qu\'est-ce que FranceConnect ?'
    assert more in choice

    callback = back_from_provider(fc, "claire-jullien")
    assert callback.status_code == 302 and callback.headers["Location"] == FC_AFTER
    granted = client.get(FC_AFTER)
    assert granted.status_code == 303 and granted.headers["Location"] == FC_GENERATE  # the link is in no URL
    form = client.get(FC_GENERATE)
    assert form.status_code == 200 and '<button type="submit" class="fr-btn">Générer un code</button>' in form.get_data(
        as_text=True
    )
    assert is_current(app, voter, printed)  # opening the page changed nothing
    generated = client.post(FC_GENERATE, data={"csrf_token": csrf_of(form)})
    assert generated.status_code == 303 and generated.headers["Location"] == CODE_SHOWN
    code = shown_code(client.get(CODE_SHOWN))
    assert is_current(app, voter, code) and not is_current(app, voter, printed)
    [link] = link_rows(app)
    assert link.voter_id == voter.id and link.used_at is not None
    assert client.get(FC_GENERATE).headers["Location"] == CODE_CHOICE  # the page served once

    done = ReassortActions(client).noted()
    assert urlsplit(done.headers["Location"]).path == "/login/vote-code"
    step = client.get(done.headers["Location"])
    entered = client.post(
        done.headers["Location"],
        data={"csrf_token": csrf_of(step), "code": code, "captcha_id": captcha_id_of(step), "captcha": TEST_CAPTCHA},
    )
    assert entered.status_code == 302 and entered.headers["Location"] == NEXT

    route = events(app)
    assert [e.type for e in route] == [
        "reassort.requested",
        "reassort.link_granted",
        "reassort.link_opened",
        "reassort.code_generated",
    ]
    assert {e.subject for e in route} == {voter.subject}
    assert {data_of(e)["channel"] for e in route} == {"franceconnect"}
    assert data_of(route[1])["link_id"] == data_of(route[3])["link_id"] == link.id
    federated = [(e["type"], e.get("purpose"), e["subject"]) for e in federation_events(app)]
    assert federated == [
        ("federation.started", "reassort", voter.subject),
        ("federation.matched", "reassort", voter.subject),
    ]


def test_someone_elses_franceconnect_identity_is_refused_and_audited(
    app: Flask, client: FlaskClient, voters: VoterFactory, signed_in_claire: Voter, fc: FederationActions
) -> None:
    other = sophie(voters)
    assert back_from_provider(fc, "sophie-martin-1982").headers["Location"] == FC_AFTER
    refused = client.get(FC_AFTER)
    assert refused.status_code == 403
    assert OTHER_VOTER in page(refused) and f'href="{CODE_CHOICE}"' in page(refused)
    assert link_rows(app) == [] and codes_issued(app) == 0
    assert client.get(FC_AFTER).headers["Location"] == CODE_CHOICE  # the match served once
    assert client.get(FC_GENERATE).headers["Location"] == CODE_CHOICE
    [event] = [e for e in events(app) if e.type == "reassort.franceconnect_refused"]
    assert event.subject == signed_in_claire.subject
    assert data_of(event) == {
        "kind": "code",
        "channel": "franceconnect",
        "reason": "other_voter",
        "matched_subject": other.subject,
    }


def test_repeated_mismatches_lock_the_reassort_whatever_the_route(
    make_app: Callable[..., Flask], voters: VoterFactory, browser: requests.Session, fc_server: FcServer
) -> None:
    locking = make_app(REASSORT_LOCKOUT_THRESHOLD=2)
    client = locking.test_client()
    voter = claire(voters)
    sophie(voters)
    AuthActions(client).login(voter.identifier)
    fc = FederationActions(client, browser)
    for _ in range(2):
        back_from_provider(fc, "sophie-martin-1982")
        assert client.get(FC_AFTER).status_code == 403
    authorizations = fc_server.count("/api/v2/authorize")
    locked = client.get(FC_START)
    assert locked.status_code == 429 and LOCKED in page(locked)
    assert fc_server.count("/api/v2/authorize") == authorizations  # not sent to the provider
    assert LOCKED in page(client.get(CODE_REQUEST))  # the défi route is locked too
    assert [(e.type, data_of(e).get("scope")) for e in events(locking) if e.type == "reassort.locked"] == [
        ("reassort.locked", "voter")
    ]
    assert data_of(events(locking)[-1]) == {"kind": "code", "channel": "franceconnect"}  # reassort.throttled


def test_an_identity_that_is_no_voters_ends_on_the_federations_page(
    app: Flask, client: FlaskClient, signed_in_claire: Voter, fc: FederationActions
) -> None:
    answer = back_from_provider(fc, "thomas-girard")
    fault = FAULTS["no_match"]
    assert answer.status_code == fault.status and fault.code in page(answer)
    assert f'href="{CODE_CHOICE}"' in page(answer)  # its button leads back to the choice
    assert client.get(FC_AFTER).headers["Location"] == CODE_CHOICE  # no match to take
    assert link_rows(app) == [] and codes_issued(app) == 0
    assert types(app) == ["reassort.requested"]


@pytest.mark.parametrize(("scenario", "reason"), [("token-500", "provider_error"), ("refus-usager", "cancelled")])
def test_a_provider_fault_ends_on_a_french_page_without_a_code(
    app: Flask, client: FlaskClient, signed_in_claire: Voter, fc: FederationActions, scenario: str, reason: str
) -> None:
    answer = back_from_provider(fc, "claire-jullien", scenario)
    fault = FAULTS[reason]
    assert answer.status_code == fault.status
    assert fault.title in page(answer) and fault.code in page(answer) and f'href="{CODE_CHOICE}"' in page(answer)
    assert client.get(FC_AFTER).headers["Location"] == CODE_CHOICE
    assert link_rows(app) == [] and codes_issued(app) == 0
    failed = [e for e in federation_events(app) if e["type"] == "federation.failed"]
    assert [(e["purpose"], e["reason"]) for e in failed] == [("reassort", reason)]


def test_outside_the_window_nobody_is_sent_to_the_provider(
    make_app: Callable[..., Flask], voters: VoterFactory, fc_server: FcServer
) -> None:
    closed = make_app(ELECTION_SEALED_AT=SEALED, ELECTION_CLOSES_AT=CLOSED)
    client = closed.test_client()
    voter = claire(voters)
    AuthActions(client).login(voter.identifier)
    answer = client.get(FC_START)
    assert answer.status_code == 403 and "Le vote est clos" in page(answer)
    assert fc_server.count("/api/v2/authorize") == 0
    assert [(e.type, data_of(e)) for e in events(closed)] == [
        ("reassort.refused", {"kind": "code", "channel": "franceconnect", "reason": "window"})
    ]


def test_a_match_after_the_closing_gives_no_code(
    app: Flask, make_app: Callable[..., Flask], client: FlaskClient, signed_in_claire: Voter, fc: FederationActions
) -> None:
    """Two IdP processes on one database and store: the second one's clock is past the closing."""
    back_from_provider(fc, "claire-jullien")
    closed = make_app(ELECTION_SEALED_AT=SEALED, ELECTION_CLOSES_AT=CLOSED).test_client()
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    closed.set_cookie(cookie.key, cookie.value)
    answer = closed.get(FC_AFTER)
    assert answer.status_code == 403 and "Le vote est clos" in page(answer)
    assert link_rows(app) == [] and codes_issued(app) == 0
    assert data_of(events(app)[-1]) == {"kind": "code", "channel": "franceconnect", "reason": "window"}


def test_the_granted_link_serves_only_the_browser_and_voter_it_was_granted_to(
    app: Flask, client: FlaskClient, signed_in_claire: Voter, fc: FederationActions
) -> None:
    back_from_provider(fc, "claire-jullien")
    assert client.get(FC_AFTER).headers["Location"] == FC_GENERATE
    elsewhere = app.test_client()  # the same voter, signed in on another browser
    AuthActions(elsewhere).login(signed_in_claire.identifier)
    assert elsewhere.get(FC_GENERATE).headers["Location"] == CODE_CHOICE
    assert [row.used_at for row in link_rows(app)] == [None]
    assert client.get(FC_GENERATE).status_code == 200


def test_the_route_starts_from_a_signed_in_voter(client: FlaskClient) -> None:
    for path in (FC_START, FC_AFTER, FC_GENERATE):
        answer = client.get(path)
        assert answer.status_code == 302
        assert urlsplit(answer.headers["Location"]).path in {"/login", CODE_CHOICE}, path
    assert urlsplit(client.get(FC_START).headers["Location"]).path == "/login"


def test_without_the_federation_the_choice_is_absent(make_app: Callable[..., Flask], voters: VoterFactory) -> None:
    disabled = make_app(FC_ENABLED=False)
    client = disabled.test_client()
    AuthActions(client).login(voters.create().identifier)
    choice = page(client.get(CODE_CHOICE))
    assert "Répondre à votre question Défi" in choice
    assert "FranceConnect" not in choice and ">OU<" not in choice
    for path in (FC_START, FC_AFTER):
        assert client.get(path).status_code == 404


def test_another_process_receives_the_return(
    app: Flask, make_app: Callable[..., Flask], client: FlaskClient, signed_in_claire: Voter, fc: FederationActions
) -> None:
    """Stateless processes: the route starts in one IdP process and ends in another (the same browser)."""
    started = client.get(FC_START)
    location = fc.pick(started.headers["Location"], "claire-jullien")
    second = make_app().test_client()
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    second.set_cookie(cookie.key, cookie.value)
    assert second.get(path_of(location)).headers["Location"] == FC_AFTER
    assert second.get(FC_AFTER).headers["Location"] == FC_GENERATE
    assert client.get(FC_GENERATE).status_code == 200
