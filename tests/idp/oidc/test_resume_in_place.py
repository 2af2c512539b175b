"""The password and vote-code screens resume the authorization request in their own answer (idp.auth.continuation):
the POST redirects straight to the client with the code, ``state`` and ``iss`` — one request fewer than the
redirect through ``/authorize/resume`` — and keeps Post/Redirect/Get: ``form_post``, whose answer is a page, still
goes through the resume URL. A form submitted twice ends at the client with a code on both answers, whether the
second POST runs while the first does or after it has completed: the session it carries was replaced by the first
(infra.sessions.REPLACED_GRACE) and its waiting request completed (idp.oidc.transactions.completed)."""

from __future__ import annotations

import importlib
import threading
import time
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from werkzeug.test import TestResponse

from idp.auth.state import ACR_PASSWORD, ACR_VOTE_CODE
from idp.db import get_db, get_session
from idp.models import AuditEvent, Voter
from idp.oidc import authorization, transactions
from idp.oidc.errors import error_page
from idp.votecode.service import issue_code
from idp.web import keyed_hasher
from tests.helpers import DEFAULT_PASSWORD, TEST_CAPTCHA, captcha_id_of, csrf_of
from tests.oidc_helpers import (
    ISSUER,
    Authorization,
    pending_next,
    query_of,
    shows_identifier_page,
    shows_vote_code_page,
    verify,
    vote_code_action,
)

pytest_plugins = ["tests.oidc_fixtures"]
#: The module hashchain.append (the package exports its function under the same name).
appending = importlib.import_module("hashchain.append")


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    # argon2 given a few milliseconds (8 MiB), as in the lockout race tests: twin POSTs are inside it together.
    return {**app_config, "ARGON2_MEMORY_COST": 8192}


def password_page(flow, rp, voter, **extra):
    """An authorization request, its sign-in page and identifier: the password page, and the request's parameters."""
    response, params, verifier = flow.start(rp, **extra)
    assert shows_identifier_page(response)  # the sign-in page, which remembers where to resume
    resume = pending_next(flow.client)
    assert flow.auth.submit_identifier(voter.identifier).status_code == 302
    return flow.client.get("/login/password"), params, verifier, resume


def codes_issued(app: Flask) -> int:
    with get_db(app).transaction() as session:
        types = Counter(session.execute(select(AuditEvent.type)).scalars())
    return types["oidc.code_issued"]


def test_the_password_post_answers_with_the_code(app, flow, rp, voters):
    voter = voters.create()
    page, params, verifier, resume = password_page(flow, rp, voter)
    answer = flow.client.post("/login/password", data={"csrf_token": csrf_of(page), "password": DEFAULT_PASSWORD})
    assert answer.status_code == 302 and answer.headers["Location"].startswith(rp.redirect_uri + "?")
    query = query_of(answer.headers["Location"])
    assert query["state"] == params["state"] and query["iss"] == ISSUER
    tokens = flow.exchange(rp, Authorization(answer, query, verifier, params))
    assert tokens.status_code == 200
    claims = verify(flow.client, tokens.get_json()["id_token"])
    assert claims["sub"] and claims["nonce"] == params["nonce"] and claims["acr"] == ACR_PASSWORD
    # The request was completed: its resume URL yields no code of its own; for a moment it sends the browser to the
    # same authorization request again (a new request: a twin of the form, a refresh), then it has expired.
    replay = flow.client.get(resume)
    assert replay.status_code == 303 and query_of(replay.headers["Location"]) == params
    assert replay.headers["Location"].startswith("/authorize?")
    assert codes_issued(app) == 1


def test_a_completed_request_is_known_for_a_moment_only(app, flow, rp, voters, monkeypatch):
    monkeypatch.setattr(transactions, "COMPLETED_KEPT", 1)
    page, _, _, resume = password_page(flow, rp, voters.create())
    answer = flow.client.post("/login/password", data={"csrf_token": csrf_of(page), "password": DEFAULT_PASSWORD})
    assert answer.headers["Location"].startswith(rp.redirect_uri + "?")
    time.sleep(1.1)
    replay = flow.client.get(resume)
    assert replay.status_code == 400 and "Demande expirée" in replay.get_data(as_text=True)


def test_form_post_still_goes_through_the_resume_url(flow, rp, voters):
    """The form_post answer is a page that posts itself to the client: a POST must not answer it (a refresh would
    submit the password again), so the sign-in redirects to the resume URL, whose GET answers it."""
    voter = voters.create()
    page, params, _, resume = password_page(flow, rp, voter, response_mode="form_post")
    answer = flow.client.post("/login/password", data={"csrf_token": csrf_of(page), "password": DEFAULT_PASSWORD})
    assert answer.status_code == 302 and answer.headers["Location"] == resume
    posted = flow.client.get(resume)
    assert posted.status_code == 200
    assert f'name="state" value="{params["state"]}"' in posted.get_data(as_text=True)


def test_an_expired_request_is_left_to_the_resume_page(flow, rp, voters):
    voter = voters.create()
    flow.client.get("/login?next=/authorize/resume%3Ftx%3Dunknown")
    assert flow.auth.login(voter.identifier).headers["Location"] == "/authorize/resume?tx=unknown"


def _at_once(calls):
    answers: list[TestResponse | None] = [None] * len(calls)

    def run(index: int) -> None:
        answers[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(answers)
    return answers


class BothInFlight:
    """Holds each twin once it has read the old session and the waiting request (before its password is checked)
    until the other has too: the twins run at the same time whatever the machine's load (on SQLite, the one that
    writes first then holds the other until it commits)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.arrived = threading.Barrier(2, timeout=30)
        self.lock = threading.Lock()
        self.loads = 0
        self.load = transactions.load
        monkeypatch.setattr(transactions, "load", self._load)

    def _load(self, kind: str, tx_id: object) -> transactions.Transaction | None:
        tx = self.load(kind, tx_id)
        with self.lock:
            self.loads += 1
            hold = self.loads <= 2
        if hold:
            assert tx is not None, "each twin read the waiting request"
            self.arrived.wait()
        return tx


def _tab(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another tab of the same browser: the same session cookie."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    tab = app.test_client()
    tab.set_cookie(cookie.key, cookie.value, domain="localhost")
    return tab


def _to_client(tab: FlaskClient, answer: TestResponse, rp) -> dict[str, str]:
    for _ in range(3):
        location = answer.headers["Location"]
        if location.startswith(rp.redirect_uri):
            return query_of(location)
        answer = tab.get(location)
        assert answer.status_code in (302, 303), answer.get_data(as_text=True)[:300]
    raise AssertionError("the browser never reached the client")


def test_a_password_form_submitted_twice_at_once_ends_at_the_client_on_both_answers(app, flow, rp, voters, monkeypatch):
    """Both POSTs sign in; one completes the request; the other, whose answer is the one the browser follows, sends
    it to the same request again, answered by its own fresh session with a code of its own."""
    voter = voters.create()
    page, params, _, _ = password_page(flow, rp, voter)
    form = {"csrf_token": csrf_of(page), "password": DEFAULT_PASSWORD}
    tabs = [_tab(app, flow.client), _tab(app, flow.client)]
    in_flight = BothInFlight(monkeypatch)
    answers = _at_once([lambda t=tab: t.post("/login/password", data=form) for tab in tabs])
    assert in_flight.loads >= 2
    assert sorted(a.status_code for a in answers) == [302, 303]  # to the client; to the same request again
    queries = [_to_client(tab, answer, rp) for tab, answer in zip(tabs, answers, strict=True)]
    assert all(q["state"] == params["state"] and q["code"] for q in queries)
    assert queries[0]["code"] != queries[1]["code"]
    assert codes_issued(app) == 2


def _cookie(app: Flask, client: FlaskClient) -> str:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return cookie.value


def test_a_password_form_submitted_twice_ends_at_the_client_when_the_first_answer_came_first(app, flow, rp, voters):
    """The double click whose second POST starts once the server has answered the first (argon2 is quick): it
    carries the cookie the first sign-in replaced and finds the request completed, and still ends at the client."""
    voter = voters.create()
    page, params, _, _ = password_page(flow, rp, voter)
    form = {"csrf_token": csrf_of(page), "password": DEFAULT_PASSWORD}
    tabs = [_tab(app, flow.client), _tab(app, flow.client)]  # both POSTs leave with the cookie of the password page
    first = tabs[0].post("/login/password", data=form)
    assert first.status_code == 302 and first.headers["Location"].startswith(rp.redirect_uri + "?")
    second = tabs[1].post("/login/password", data=form)
    assert second.status_code == 303 and second.headers["Location"].startswith("/authorize?")
    assert query_of(second.headers["Location"]) == params
    queries = [query_of(first.headers["Location"]), _to_client(tabs[1], second, rp)]
    assert all(q["state"] == params["state"] and q["code"] for q in queries)
    assert queries[0]["code"] != queries[1]["code"]
    assert codes_issued(app) == 2
    # Each answer gave a session id of its own; neither is the one both POSTs carried.
    assert len({_cookie(app, tab) for tab in tabs} | {_cookie(app, flow.client)}) == 3


def test_the_vote_code_post_answers_with_the_code(app, flow, rp, voters):
    voter = voters.create()
    with app.app_context(), get_db(app).transaction() as session:
        code = issue_code(session, session.get(Voter, voter.id), "notice", hasher=keyed_hasher())
    flow.tokens(rp, voter)  # signed in at the password level
    page, params, verifier = flow.start(rp, acr_values=ACR_VOTE_CODE)
    assert shows_vote_code_page(page)  # /authorize's own answer
    location = vote_code_action(page)
    form = {"csrf_token": csrf_of(page), "captcha_id": captcha_id_of(page), "code": code, "captcha": TEST_CAPTCHA}
    answer = flow.client.post(location, data=form)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(rp.redirect_uri + "?")
    query = query_of(answer.headers["Location"])
    assert query["state"] == params["state"] and query["iss"] == ISSUER
    tokens = flow.exchange(rp, Authorization(answer, query, verifier, params))
    assert verify(flow.client, tokens.get_json()["id_token"])["acr"] == ACR_VOTE_CODE


def test_a_vote_code_form_submitted_twice_ends_at_the_client_when_the_first_answer_came_first(app, flow, rp, voters):
    """The step-up's twin: it carries the cookie of the password-level session the step-up replaced, the CAPTCHA
    its form answered was used by the first POST, and its request completed; it still ends at the client, with a
    code at the vote-code level of its own."""
    voter = voters.create()
    with app.app_context(), get_db(app).transaction() as session:
        code = issue_code(session, session.get(Voter, voter.id), "notice", hasher=keyed_hasher())
    flow.tokens(rp, voter)  # signed in at the password level
    page, params, verifier = flow.start(rp, acr_values=ACR_VOTE_CODE)
    assert shows_vote_code_page(page)
    location = vote_code_action(page)
    form = {"csrf_token": csrf_of(page), "captcha_id": captcha_id_of(page), "code": code, "captcha": TEST_CAPTCHA}
    tabs = [_tab(app, flow.client), _tab(app, flow.client)]
    first = tabs[0].post(location, data=form)
    assert first.status_code == 302 and first.headers["Location"].startswith(rp.redirect_uri + "?")
    second = tabs[1].post(location, data=form)
    assert second.status_code == 303 and query_of(second.headers["Location"]) == params
    before = codes_issued(app)
    query = _to_client(tabs[1], second, rp)
    assert query["state"] == params["state"] and query["code"] != query_of(first.headers["Location"])["code"]
    assert codes_issued(app) == before + 1
    tokens = flow.exchange(rp, Authorization(second, query, verifier, params))
    assert verify(flow.client, tokens.get_json()["id_token"])["acr"] == ACR_VOTE_CODE


def test_sign_out_ends_the_session_the_step_up_replaced(app, flow, rp, voters):
    """The password-level entry the step-up kept for a twin opens nothing once the voter has signed out."""
    location, form, _ = _vote_code_page(app, flow, rp, voters.create())
    old = _tab(app, flow.client)
    assert old.get("/").status_code == 200  # signed in at the password level
    assert flow.client.post(location, data=form).headers["Location"].startswith(rp.redirect_uri + "?")
    assert old.get("/").status_code == 200, "kept for a twin of the vote-code form"
    logout = flow.client.get("/logout")
    assert flow.client.post("/logout", data={"csrf_token": csrf_of(logout)}).status_code == 302
    assert old.get("/").status_code == 302, "signed out: back to the sign-in page"
    assert flow.client.get("/").status_code == 302


# --- one transaction: the screen's audit event is committed with the code, and whatever the resumption answers ---


class Commits:
    """The audit events each commit of the IdP's database carried (a rolled back transaction's are dropped)."""

    def __init__(self, app: Flask) -> None:
        self.engine = get_db(app).engine
        self.pending: list[str] = []
        self.groups: list[list[str]] = []
        self.count = 0
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._commit)
        event.listen(self.engine, "rollback", self._rollback)
        # On PostgreSQL the append's INSERT goes through psycopg's pipeline (hashchain.append.send).
        self._send = appending.send
        appending.send = self._sent

    def _statement(self, _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENT"):
            self.pending.append(context.compiled_parameters[0]["type"])

    def _sent(self, cursor: Any, sql: str, params: Any) -> None:
        if sql.startswith("INSERT INTO audit_event"):
            self.pending.append(params["type"])
        self._send(cursor, sql, params)

    def _commit(self, _conn: Any) -> None:
        self.count += 1
        if self.pending:
            self.groups.append(self.pending)
        self.pending = []

    def _rollback(self, _conn: Any) -> None:
        self.pending = []

    def close(self) -> None:
        appending.send = self._send
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)
        event.remove(self.engine, "rollback", self._rollback)


@pytest.fixture
def commits(app: Flask):
    watcher = Commits(app)
    yield watcher
    watcher.close()


def _vote_code_page(app, flow, rp, voter):
    with app.app_context(), get_db(app).transaction() as session:
        code = issue_code(session, session.get(Voter, voter.id), "notice", hasher=keyed_hasher())
    flow.tokens(rp, voter)  # signed in at the password level
    page, _, _ = flow.start(rp, acr_values=ACR_VOTE_CODE)
    assert shows_vote_code_page(page)  # /authorize's own answer
    location = vote_code_action(page)
    form = {"csrf_token": csrf_of(page), "captcha_id": captcha_id_of(page), "code": code, "captcha": TEST_CAPTCHA}
    return location, form, query_of(location)["next"]


def test_the_password_post_commits_its_sign_in_and_the_code_in_one_transaction(app, flow, rp, voters, commits):
    page, _, _, _ = password_page(flow, rp, voters.create())
    commits.groups.clear()
    commits.count = 0
    answer = flow.client.post("/login/password", data={"csrf_token": csrf_of(page), "password": DEFAULT_PASSWORD})
    assert answer.headers["Location"].startswith(rp.redirect_uri + "?")
    assert commits.groups == [["login.succeeded", "oidc.code_issued"]]
    # On SQLite the voter's read is committed before argon2 (it holds the write lock); on PostgreSQL it is part of
    # the one transaction.
    assert commits.count == (2 if get_db(app).is_sqlite else 1)


def test_the_vote_code_post_commits_its_check_and_the_code_in_one_transaction(app, flow, rp, voters, commits):
    location, form, _ = _vote_code_page(app, flow, rp, voters.create())
    commits.groups.clear()
    answer = flow.client.post(location, data=form)
    assert answer.headers["Location"].startswith(rp.redirect_uri + "?")
    assert commits.groups == [["votecode.verified", "oidc.code_issued"]]


def _refused(*_: Any, **__: Any) -> Any:
    return error_page("expired")  # an answer of 400: the resumption's transaction is rolled back


def _failing(*_: Any, **__: Any) -> Any:
    get_session().add(AuditEvent(chain=0, seq=0, type="x", data="{}", prev_hash="", hash=""))  # rolled back too
    raise RuntimeError("the resumption failed")


def test_a_refused_resumption_still_commits_the_sign_in_once(app, flow, rp, voters, commits, monkeypatch):
    """The browser then goes to the resume URL, signed in, whose GET shows the error."""
    page, _, _, resume = password_page(flow, rp, voters.create())
    commits.groups.clear()
    monkeypatch.setattr(authorization, "run", _refused)
    answer = flow.client.post("/login/password", data={"csrf_token": csrf_of(page), "password": DEFAULT_PASSWORD})
    assert answer.status_code == 302 and answer.headers["Location"] == resume
    assert commits.groups == [["login.succeeded"]]
    assert flow.client.get("/").status_code == 200  # signed in


def test_a_failed_resumption_commits_the_sign_in_and_leaves_no_session(app, flow, rp, voters, commits, monkeypatch):
    page, _, _, _ = password_page(flow, rp, voters.create())
    commits.groups.clear()
    monkeypatch.setattr(authorization, "run", _failing)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    answer = flow.client.post("/login/password", data={"csrf_token": csrf_of(page), "password": DEFAULT_PASSWORD})
    assert answer.status_code == 500
    assert commits.groups == [["login.succeeded"]]
    assert flow.client.get("/").status_code == 302  # not signed in: back to the sign-in page


def test_a_refused_resumption_still_commits_the_vote_code_check(app, flow, rp, voters, commits, monkeypatch):
    location, form, resume = _vote_code_page(app, flow, rp, voters.create())
    commits.groups.clear()
    monkeypatch.setattr(authorization, "run", _refused)
    answer = flow.client.post(location, data=form)
    assert answer.status_code == 302 and answer.headers["Location"] == resume
    assert commits.groups == [["votecode.verified"]]


def test_a_failed_resumption_commits_the_vote_code_check_and_ends_the_session(
    app, flow, rp, voters, commits, monkeypatch
):
    """The session is not left at the vote-code level (nor at any other) unless its check was committed with it."""
    location, form, _ = _vote_code_page(app, flow, rp, voters.create())
    commits.groups.clear()
    monkeypatch.setattr(authorization, "run", _failing)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert flow.client.post(location, data=form).status_code == 500
    assert commits.groups == [["votecode.verified"]]
    assert flow.client.get("/").status_code == 302
