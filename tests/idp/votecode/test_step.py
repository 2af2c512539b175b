""" "Saisie du code de vote": the step-up screen at the IdP (seed step 5)."""

from __future__ import annotations

import hashlib
import json
import logging
from html import unescape
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from sqlalchemy import inspect, select, update

from idp.auth.state import ACR_PASSWORD, ACR_VOTE_CODE
from idp.db import get_db
from idp.models import AuditEvent, Voter
from idp.plugins import EXTENSION_KEY as PLUGINS_KEY
from idp.store import get_store
from idp.votecode.service import issue_code
from idp.web import keyed_hasher
from infra.sessions import REPLACED_GRACE
from tests.helpers import TEST_CAPTCHA, captcha_id_of, csrf_of
from tests.idp.test_no_secret_leaks import every_text_in_tables, store_dump

URL = "/login/vote-code"
WRONG = "Le code de vote saisi est incorrect."
LOCKED = "la saisie du code de vote est temporairement suspendue"
REASSORT_LABEL = "Cliquez ici pour obtenir un réassort de votre code de vote"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "VOTECODE_LOCKOUT_THRESHOLD": 3, "VOTECODE_LOCKOUT_DURATION": 600}


def issue(app, voter) -> str:
    with app.app_context(), get_db(app).transaction() as session:
        return issue_code(session, session.get(Voter, voter.id), "notice", hasher=keyed_hasher())


def url(next_: str | None = None) -> str:
    return URL + (f"?next={quote(next_, safe='')}" if next_ else "")


def submit(client, code: str, *, captcha: str = TEST_CAPTCHA, next_: str | None = None):
    page = client.get(url(next_))
    assert page.status_code == 200, page.status_code
    return client.post(
        url(next_),
        data={"csrf_token": csrf_of(page), "captcha_id": captcha_id_of(page), "code": code, "captcha": captcha},
    )


def session_id(client) -> str:
    cookie = client.get_cookie("idp_session")
    assert cookie is not None
    return cookie.value


def session_auth(app, client) -> dict[str, Any]:
    """The authentication recorded in the server-side session of ``client``."""
    raw = get_store(app).get("session:" + hashlib.sha256(session_id(client).encode()).hexdigest())
    assert raw is not None
    return dict(json.loads(raw)["data"]["auth"])


def events(app, prefix: str = "votecode.") -> list[AuditEvent]:
    with get_db(app).sessionmaker() as session:
        return list(
            session.execute(
                select(AuditEvent).where(AuditEvent.type.like(prefix + "%")).order_by(AuditEvent.id)
            ).scalars()
        )


@pytest.fixture
def signed_in(app, client, voters, auth):
    voter = voters.create()
    assert auth.login(voter.identifier).status_code == 302
    return voter


def test_requires_a_signed_in_voter(client):
    response = client.get(url("/authorize/resume?tx=abc"))
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    back = urlsplit(parse_qs(location.query)["next"][0])
    assert back.path == URL and parse_qs(back.query)["next"] == ["/authorize/resume?tx=abc"]
    assert client.post(URL, data={"code": "x"}).status_code == 400


def test_sign_in_then_comes_back_to_the_vote_code_step(app, client, voters, auth):
    voter = voters.create()
    client.get(client.get(url("/suite")).headers["Location"])  # the sign-in page remembers where to go
    response = auth.login(voter.identifier)
    location = urlsplit(response.headers["Location"])
    assert location.path == URL and parse_qs(location.query) == {"next": ["/suite"]}


def test_page_shows_the_seed_text_the_captcha_and_no_plugin_link(client, signed_in):
    page = client.get(URL)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<h1>Saisie du code de vote</h1>" in html
    assert (
        "veuillez renseigner votre <strong>code de vote</strong> (votre code de\n    vote se trouve sur votre "
        "notice de vote papier) ;" in html
    )
    assert "recopiez le <strong>CAPTCHA</strong>" in html
    assert 'name="captcha_id"' in html and "/captcha/" in html and "Écouter le CAPTCHA" in html
    assert 'autocomplete="off"' in html
    # No plugin installed: the plugin place renders nothing at all.
    assert "plugin-links" not in html


def test_plugin_place_shows_the_links_plugins_add(app, client, signed_in):
    app.extensions[PLUGINS_KEY].add_link("vote_code_page", "login.identifier", REASSORT_LABEL)
    html = client.get(URL).get_data(as_text=True)
    assert 'class="plugin-links"' in html and f'<a href="/login">{REASSORT_LABEL}</a>' in html


def test_right_code_raises_the_level_with_a_new_session_id(app, client, signed_in):
    printed = issue(app, signed_in)
    before = session_auth(app, client)
    old_sid = session_id(client)
    assert before["acr"] == ACR_PASSWORD

    response = submit(client, printed.lower().replace("-", " "), next_="/authorize/resume?tx=abc")

    assert response.status_code == 302
    assert response.headers["Location"] == "/authorize/resume?tx=abc"
    assert session_id(client) != old_sid
    after = session_auth(app, client)
    assert after["acr"] == ACR_VOTE_CODE and after["amr"] == ["pwd", "otp"]
    assert after["auth_time"] >= before["auth_time"] and after["step_up_time"] == after["auth_time"]
    assert after["subject"] == signed_in.subject
    # The old session id reads, for a twin of this form and a few seconds only, what it had: the password level,
    # never the vote-code level it was raised to.
    client.set_cookie("idp_session", old_sid)
    assert session_auth(app, client)["acr"] == ACR_PASSWORD
    assert client.get(URL).status_code == 200  # the vote-code page again, for a voter at the password level
    assert (get_store(app).ttl("session:" + hashlib.sha256(old_sid.encode()).hexdigest()) or 0) <= REPLACED_GRACE
    assert [e.type for e in events(app)] == ["votecode.issued", "votecode.verified"]


def test_without_next_goes_to_the_signed_in_page_and_an_outside_next_is_ignored(app, client, signed_in):
    printed = issue(app, signed_in)
    assert submit(client, printed).headers["Location"] == "/"
    assert submit(client, printed, next_="https://attacker.example/").headers["Location"] == "/"
    assert submit(client, printed, next_="//attacker.example/").headers["Location"] == "/"


def test_wrong_code_and_no_code_get_the_same_answer(app, client, voters, auth, signed_in):
    issue(app, signed_in)
    wrong = submit(client, "ABCD-EFGH-JKMNP")
    other = voters.create()
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/logout"))})
    auth.login(other.identifier)
    none_issued = submit(client, "ABCD-EFGH-JKMNP")
    assert wrong.status_code == none_issued.status_code == 401
    for response in (wrong, none_issued):
        html = response.get_data(as_text=True)
        assert WRONG in html and "seul le dernier code reçu est valable" in html
    assert session_auth(app, client)["acr"] == ACR_PASSWORD
    assert [e.type for e in events(app)][-2:] == ["votecode.failed", "votecode.failed"]


def test_wrong_codes_lock_the_step_then_even_the_right_code_waits(app, client, signed_in):
    printed = issue(app, signed_in)
    for _ in range(2):
        assert WRONG in submit(client, "ABCD-EFGH-JKMNP").get_data(as_text=True)
    third = submit(client, "ABCD-EFGH-JKMNP")
    assert third.status_code == 429 and LOCKED in third.get_data(as_text=True)
    locked = submit(client, printed)
    html = locked.get_data(as_text=True)
    assert locked.status_code == 429 and LOCKED in html and "Réessayez dans 10\u00a0minutes" in html
    assert session_auth(app, client)["acr"] == ACR_PASSWORD
    assert LOCKED in client.get(URL).get_data(as_text=True)  # the page says so before another attempt
    types = [e.type for e in events(app)]
    assert types.count("votecode.failed") == 3 and types.count("votecode.locked") == 1
    assert types[-1] == "votecode.throttled"


def test_the_lock_is_shared_by_every_process(app, client, signed_in, make_app):
    for _ in range(3):
        submit(client, "ABCD-EFGH-JKMNP")
    other_process = make_app().test_client()
    other_process.set_cookie("idp_session", session_id(client))
    assert LOCKED in submit(other_process, issue(app, signed_in)).get_data(as_text=True)


def test_right_code_resets_the_failure_count(app, client, signed_in):
    printed = issue(app, signed_in)
    for _ in range(2):
        submit(client, "ABCD-EFGH-JKMNP")
    assert submit(client, printed).status_code == 302
    for _ in range(2):
        assert LOCKED not in submit(client, "ABCD-EFGH-JKMNP").get_data(as_text=True)


def test_malformed_entry_is_explained_and_not_counted(app, client, signed_in):
    issue(app, signed_in)
    for _ in range(4):
        response = submit(client, "K7QM-3XWD-9PRT0")
        html = response.get_data(as_text=True)
        assert response.status_code == 400
        assert "Ce n'est pas un code de vote : un code compte 13 caractères" in unescape(html)
    assert LOCKED not in html
    assert {e.type for e in events(app)} == {"votecode.issued", "votecode.rejected"}


def test_captcha_is_required(app, client, signed_in):
    printed = issue(app, signed_in)
    response = submit(client, printed, captcha="99999")
    assert response.status_code == 400
    assert "Le code de sécurité (CAPTCHA) est incorrect ou a expiré." in response.get_data(as_text=True)
    assert session_auth(app, client)["acr"] == ACR_PASSWORD
    page = client.get(URL)
    missing = client.post(URL, data={"csrf_token": csrf_of(page), "captcha_id": captcha_id_of(page), "code": printed})
    assert missing.status_code == 400 and "Ce champ est obligatoire." in missing.get_data(as_text=True)
    assert session_auth(app, client)["acr"] == ACR_PASSWORD


def test_captcha_is_single_use(app, client, signed_in):
    printed = issue(app, signed_in)
    page = client.get(URL)
    data = {
        "csrf_token": csrf_of(page),
        "captcha_id": captcha_id_of(page),
        "code": "ABCD-EFGH-JKMNP",
        "captcha": TEST_CAPTCHA,
    }
    assert client.post(URL, data=data).status_code == 401
    replay = client.post(URL, data={**data, "code": printed})
    assert replay.status_code == 400 and "CAPTCHA" in replay.get_data(as_text=True)
    assert session_auth(app, client)["acr"] == ACR_PASSWORD


def test_csrf_token_is_required(app, client, signed_in):
    printed = issue(app, signed_in)
    page = client.get(URL)
    response = client.post(URL, data={"captcha_id": captcha_id_of(page), "code": printed, "captcha": TEST_CAPTCHA})
    assert response.status_code == 400
    assert session_auth(app, client)["acr"] == ACR_PASSWORD


def test_a_reissued_code_replaces_the_printed_one(app, client, signed_in):
    printed = issue(app, signed_in)
    reissued = issue(app, signed_in)
    assert submit(client, printed).status_code == 401
    assert submit(client, reissued).status_code == 302


def test_sessions_ended_by_a_password_change_go_back_to_sign_in(app, client, signed_in):
    with get_db(app).transaction() as session:
        session.execute(update(Voter).where(Voter.id == signed_in.id).values(session_epoch=Voter.session_epoch + 1))
    response = client.get(URL)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_codes_typed_or_issued_are_nowhere_in_logs_store_or_database(app, client, signed_in, caplog):
    caplog.set_level(logging.DEBUG)
    printed = issue(app, signed_in)
    submit(client, "ABCD-EFGH-JKMNP")
    assert submit(client, printed.lower()).status_code == 302
    tables = [t for t in inspect(get_db(app).engine).get_table_names() if t != "alembic_version"]
    everywhere = "\n".join([every_text_in_tables(app, tables), store_dump(app), caplog.text])
    for secret in (printed, printed.replace("-", ""), printed.lower(), "ABCD-EFGH-JKMNP", "ABCDEFGHJKMNP"):
        assert secret not in everywhere
    assert signed_in.subject in everywhere  # the dump does see the voter's rows and events
