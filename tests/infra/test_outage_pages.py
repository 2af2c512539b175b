"""What a visitor gets while the ephemeral store or the database is down (infra.unavailable, infra.sessions,
infra.errors): the French 503 page with ``Retry-After``, fast, signed in or not — never a raw server page, a stack
trace or a hang — on a bare app whose sessions live on a Redis of the test's own, stopped and restarted empty."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis.connection
from flask import Flask, jsonify, request, session
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from infra import errors, health, sessions
from infra.application import new_app
from infra.store import build_store, get_store, init_app
from infra.store.redis import RedisStore
from templates import FOLDERS
from tests.redis_servers import RedisServer, assert_unavailable_page, redis_server

__all__ = ["redis_server"]

COOKIE = "app_session"


@pytest.fixture
def app(redis_server: RedisServer) -> Iterator[Flask]:
    application = new_app(
        __name__,
        {"SECRET_KEY": "test-secret-0123456789", "SESSION_COOKIE_NAME": COOKIE, "TESTING": True},
        secure_cookies=False,
        max_content_length=1024,
        **FOLDERS,
    )
    application.jinja_env.globals["app_name"] = "Portail Élections"
    store = build_store(redis_server.url(), "pages:")
    assert isinstance(store, RedisStore)
    store.cooldown = 0  # every request really meets the outage
    init_app(application, store)
    sessions.install(application, store, 1800, 43200)
    errors.install(application, template="portal/error.html")
    health.install(application, {"store": health.store})

    @application.post("/sign-in")
    def sign_in() -> object:
        sessions.regenerate()
        session["user"] = request.form["user"]
        return jsonify(ok=True)

    @application.get("/me")
    def me() -> object:
        return jsonify(user=session.get("user"))

    @application.get("/captcha")
    def captcha() -> object:
        get_store().set("captcha:1", "40213", 300)  # a page without a session that needs the store
        return jsonify(ok=True)

    @application.post("/remember")
    def remember() -> object:
        session["step"] = "password"  # saved after the view: the save fails
        return jsonify(ok=True)

    @application.post("/challenge")
    def challenge() -> object:
        """A screen's writes (a new random key, a throttle's count started again) held for the session's write."""
        with get_store().batched():
            get_store().set("challenge:1", "40213", 300)
        get_store().delete("fail:1", deferrable=True)
        if request.form.get("outage"):
            redis_server.stop()
        if request.form.get("step"):
            session["step"] = request.form["step"]
        return jsonify(ok=True)

    @application.get("/report")
    def report() -> object:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    yield application
    store.close()


def signed_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert client.post("/sign-in", data={"user": "claire"}).status_code == 200
    assert client.get("/me").get_json() == {"user": "claire"}
    return client


def test_a_signed_in_visitor_gets_the_503_page_before_any_view_runs(app: Flask, redis_server: RedisServer) -> None:
    client = signed_in(app)
    redis_server.stop()
    started = time.monotonic()
    response = client.get("/me")
    assert_unavailable_page(response, started)
    assert client.get_cookie(COOKIE) is not None, "the cookie is kept: the session may come back with the store"


def test_a_visitor_without_a_session_gets_it_from_the_first_view_that_needs_the_store(
    app: Flask, redis_server: RedisServer
) -> None:
    client = app.test_client()
    redis_server.stop()
    assert client.get("/me").get_json() == {"user": None}, "a page that needs no store still answers"
    started = time.monotonic()
    assert_unavailable_page(client.get("/captcha"), started)
    assert client.get_cookie(COOKIE) is None


def test_a_session_that_cannot_be_saved_turns_the_answer_into_the_503_page(
    app: Flask, redis_server: RedisServer
) -> None:
    client = app.test_client()
    redis_server.stop()
    started = time.monotonic()
    response = client.post("/remember")
    assert_unavailable_page(response, started)
    assert client.get_cookie(COOKIE) is None, "no cookie for a session that was not stored"
    assert "Location" not in response.headers


def test_a_database_outage_is_a_503_page_not_a_500(app: Flask) -> None:
    started = time.monotonic()
    assert_unavailable_page(app.test_client().get("/report"), started)


def test_static_files_and_health_are_served_during_the_outage(app: Flask, redis_server: RedisServer) -> None:
    client = signed_in(app)
    redis_server.stop()
    stylesheet = client.get("/static/style.css")
    stylesheet.close()
    assert stylesheet.status_code == 200, "the 503 page's own stylesheet"
    started = time.monotonic()
    health_answer = client.get("/healthz")
    assert time.monotonic() - started < 2
    assert health_answer.status_code == 503
    assert health_answer.get_json()["checks"] == {"store": "error"}


def test_after_a_restart_empty_the_visitor_signs_in_again(app: Flask, redis_server: RedisServer) -> None:
    client = signed_in(app)
    redis_server.restart_empty()
    assert client.get("/me").get_json() == {"user": None}, "the session went with the store's content"
    assert client.post("/sign-in", data={"user": "claire"}).status_code == 200
    assert client.get("/me").get_json() == {"user": "claire"}
    assert client.get("/healthz").status_code == 200


def _round_trips(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    trips: list[int] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def send(connection: object, *args: object, **kwargs: object) -> object:
        trips.append(1)
        return original(connection, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", send)
    return trips


def test_what_a_request_holds_travels_with_its_session_write(
    app: Flask, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = signed_in(app)
    peek = redis_server.client()
    peek.set("pages:fail:1", "3")
    trips = _round_trips(monkeypatch)
    assert client.post("/challenge", data={"step": "code"}).status_code == 200
    assert len(trips) == 2, "the session's read, then its write with the challenge and the count's removal"
    assert peek.get("pages:challenge:1") == "40213" and peek.get("pages:fail:1") is None
    del trips[:]
    assert client.post("/challenge").status_code == 200, "the session not written (saved moments ago)"
    assert len(trips) == 2, "the session's read, then what the request held when it ends"
    assert client.get("/me").get_json() == {"user": "claire"}


@pytest.mark.parametrize("step", ["", "code"], ids=["session-unchanged", "session-changed"])
def test_writes_held_by_a_request_that_cannot_be_sent_turn_the_answer_into_the_503_page(
    app: Flask, redis_server: RedisServer, step: str
) -> None:
    client = signed_in(app)
    started = time.monotonic()
    response = client.post("/challenge", data={"outage": "1", "step": step})
    assert_unavailable_page(response, started)


def test_a_request_context_that_ends_without_saving_its_session_still_sends_what_it_held(
    app: Flask, redis_server: RedisServer
) -> None:
    peek = redis_server.client()
    peek.set("pages:fail:1", "3")
    with app.test_request_context("/me"):  # its session opened, never saved
        get_store().delete("fail:1", deferrable=True)
        assert peek.get("pages:fail:1") == "3", "held"
    assert peek.get("pages:fail:1") is None
    get_store(app).set("after", "v", 60)
    assert peek.get("pages:after") == "v", "no block left open in this thread"
