"""The web plumbing every app installs from infra: server-side sessions, security headers, error pages, health, proxies.

A bare Flask app on the in-memory store is enough here; each app's own tests check its wiring (its pages' headers,
its French pages, its ``/healthz``), and the store's contract is tested on every implementation elsewhere.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, abort, jsonify, request, session
from flask.testing import FlaskClient
from flask_wtf.csrf import CSRFProtect
from jinja2 import DictLoader

from infra import errors, headers, health, proxy, sessions
from infra.application import new_app
from infra.store.memory import MemoryStore
from templates import TEMPLATE_DIR

COOKIE = "app_session"


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    memory = MemoryStore()
    yield memory
    memory.close()


@pytest.fixture
def app(store: MemoryStore) -> Flask:
    application = new_app(
        __name__,
        {"SECRET_KEY": "test-secret-0123456789", "SESSION_COOKIE_NAME": COOKIE, "TESTING": True},
        secure_cookies=False,
        max_content_length=1024,
        template_folder=str(TEMPLATE_DIR),
    )
    sessions.install(application, store, 60, 3600, tags=lambda data: (data.get("sid"), data.get("sub")))

    @application.post("/sign-in")
    def sign_in() -> object:
        sessions.regenerate()
        session["user"] = request.form["user"]
        session["sid"], session["sub"] = "op-session", "subject"
        return jsonify(sid=sessions.current_sid())

    @application.get("/me")
    def me() -> object:
        return jsonify(user=session.get("user"))

    @application.post("/sign-out")
    def sign_out() -> object:
        session.clear()
        return jsonify(ok=True)

    return application


def cookie_of(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


# --- sessions -----------------------------------------------------------------------------------------------------


def test_the_cookie_holds_a_random_id_and_the_store_only_its_hash(app: Flask, store: MemoryStore) -> None:
    client = app.test_client()
    assert client.get("/me").get_json() == {"user": None}
    assert client.get_cookie(COOKIE) is None, "no session, no cookie"
    client.post("/sign-in", data={"user": "claire"})
    sid = cookie_of(client)
    assert len(sid) >= 40
    assert store.get(sessions.store_key(sid)) is not None
    assert store.get("session:" + sid) is None and sid not in json.dumps(store._items)
    set_cookie = client.post("/sign-in", data={"user": "claire"}).headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie


def test_a_new_id_at_sign_in_and_the_old_one_keeps_only_what_it_had_for_a_grace(app: Flask, store: MemoryStore) -> None:
    """The old cookie reads its session as it was before the new sign-in (a twin POST of a form submitted twice),
    for REPLACED_GRACE seconds and no longer; the new sign-in's session is never given to it (no fixation)."""
    client = app.test_client()
    client.post("/sign-in", data={"user": "claire"})
    first = cookie_of(client)
    client.post("/sign-in", data={"user": "bruno"})
    second = cookie_of(client)
    assert first != second
    fixed = app.test_client()
    fixed.set_cookie(COOKIE, first)
    assert fixed.get("/me").get_json() == {"user": "claire"}, "what the old cookie had, not the new session"
    assert fixed.get_cookie(COOKIE).value == first  # type: ignore[union-attr]
    assert store.ttl(sessions.store_key(first)) in range(sessions.REPLACED_GRACE - 1, sessions.REPLACED_GRACE + 1)
    later = time.time() + sessions.REPLACED_GRACE
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", lambda: later)  # the store's and the sessions' clock
        assert fixed.get("/me").get_json() == {"user": None}, "the grace is over"
        assert client.get("/me").get_json() == {"user": "bruno"}


def test_a_retired_entry_is_never_made_to_live_longer(app: Flask, store: MemoryStore) -> None:
    client = app.test_client()
    client.post("/sign-in", data={"user": "claire"})
    first = cookie_of(client)
    client.post("/sign-in", data={"user": "bruno"})
    key = sessions.store_key(first)
    until = json.loads(store.get(key) or "{}")["retired_until"]
    twin = app.test_client()
    twin.set_cookie(COOKIE, first)
    twin.post("/sign-in", data={"user": "claire"})  # a twin signing in again from the old cookie: a session of its own
    assert cookie_of(twin) not in (first, cookie_of(client))
    assert json.loads(store.get(key) or "{}")["retired_until"] == until, "not retired again, not extended"
    assert (store.ttl(key) or 0) <= sessions.REPLACED_GRACE


def test_a_new_id_is_written_and_the_old_one_retired_in_one_store_call(app: Flask, store: MemoryStore) -> None:
    client = app.test_client()
    client.post("/sign-in", data={"user": "claire"})
    first = cookie_of(client)
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    for verb in ("set", "delete"):
        original = getattr(store, verb)

        def recording(*args: Any, _verb: str = verb, _original: Any = original, **kwargs: Any) -> Any:
            calls.append((_verb, args, kwargs))
            return _original(*args, **kwargs)

        setattr(store, verb, recording)
    client.post("/sign-in", data={"user": "claire"})
    second = cookie_of(client)
    # One round trip on Redis (one pipeline), one transaction on the SQL store: the old entry retired with it.
    assert [(verb, args[0], kwargs["retiring"].key) for verb, args, kwargs in calls] == [
        ("set", sessions.store_key(second), sessions.store_key(first))
    ]
    retired = calls[0][2]["retiring"]
    assert (retired.sid, retired.sub) == ("op-session", "subject"), "a logout from the provider ends it too"
    assert json.loads(store.get(sessions.store_key(first)) or "{}")["data"]["user"] == "claire"


def test_sign_out_ends_the_session_for_every_copy_of_the_cookie(app: Flask) -> None:
    client = app.test_client()
    client.post("/sign-in", data={"user": "claire"})
    copy = app.test_client()
    copy.set_cookie(COOKIE, cookie_of(client))
    assert copy.get("/me").get_json() == {"user": "claire"}
    client.post("/sign-out")
    assert client.get_cookie(COOKIE) is None
    assert copy.get("/me").get_json() == {"user": None}


def test_sign_out_ends_the_session_it_replaced_too(app: Flask, store: MemoryStore) -> None:
    """A copy of the cookie the sign-in replaced, readable for the grace, opens nothing after the sign-out."""
    client = app.test_client()
    client.post("/sign-in", data={"user": "claire"})
    old = app.test_client()
    old.set_cookie(COOKIE, cookie_of(client))
    client.post("/sign-in", data={"user": "claire"})  # a step-up, say: the old entry is signed in too
    assert old.get("/me").get_json() == {"user": "claire"}
    client.post("/sign-out")
    assert old.get("/me").get_json() == {"user": None}
    assert store._items == {}, "nothing left of either entry"


def test_sessions_are_tagged_for_logouts_from_the_provider(app: Flask, store: MemoryStore) -> None:
    client = app.test_client()
    client.post("/sign-in", data={"user": "claire"})
    assert store.delete_tagged(sid="op-session") == 1
    assert client.get("/me").get_json() == {"user": None}


def test_absolute_timeout(app: Flask, store: MemoryStore) -> None:
    client = app.test_client()
    client.post("/sign-in", data={"user": "claire"})
    sid = cookie_of(client)
    entry = json.loads(store.get(sessions.store_key(sid)) or "{}")
    entry["created"] = time.time() - 3601
    store.set(sessions.store_key(sid), json.dumps(entry), 60)
    assert client.get("/me").get_json() == {"user": None}
    assert store.get(sessions.store_key(sid)) is None, "an expired session is deleted when seen"


def test_a_cookie_that_is_not_one_of_ours_is_ignored(app: Flask) -> None:
    client = app.test_client()
    client.set_cookie(COOKIE, "x" * 500)
    assert client.get("/me").get_json() == {"user": None}


def test_a_sessionless_prefix_neither_reads_nor_writes_the_session(app: Flask, store: MemoryStore) -> None:
    """Under a prefix given to ``not_for`` (the CAPTCHA's image and sound) the store is not read for the session,
    the session looks empty, the cookie is left alone, and a write fails loudly instead of being lost."""
    sessions.not_for(app, "/captcha/")
    sessions.not_for(app, "/captcha/")  # naming a prefix twice keeps it once
    assert app.extensions[sessions.SESSIONLESS] == ("/captcha/",)

    @app.get("/captcha/<name>")
    def image(name: str) -> object:
        if name == "write":
            session["user"] = "mallory"
        return jsonify(user=session.get("user"))

    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    client.post("/sign-in", data={"user": "claire"})
    reads = []
    original_get = store.get
    store.get = lambda key: reads.append(key) or original_get(key)  # type: ignore[method-assign]
    answer = client.get("/captcha/1.png")
    assert answer.get_json() == {"user": None} and "Set-Cookie" not in answer.headers
    assert reads == [], "the session was not read"
    assert client.get("/captcha/write").status_code == 500
    assert client.get("/me").get_json() == {"user": "claire"}, "the session is as it was"
    assert reads, "outside the prefix the session is read"


# --- headers, errors, proxies -------------------------------------------------------------------------------------


def test_policy_builder() -> None:
    policy = headers.content_security_policy(
        form_action=["https://idp.example.fr", ""], directives={"script-src": None, "media-src": "'self'"}
    )
    assert "form-action 'self' https://idp.example.fr;" in policy
    assert "script-src" not in policy and policy.endswith("media-src 'self'")
    assert "frame-ancestors 'none'" in policy
    assert headers.origin_of("https://user@idp.example.fr:8443/path?q") == "https://idp.example.fr:8443"
    assert headers.origin_of("javascript:alert(1)") is None


@pytest.mark.parametrize("no_store", ["html", "all"])
def test_security_headers(no_store: str) -> None:
    app = Flask(__name__)
    headers.install(app, csp="default-src 'self'", hsts=True, no_store=no_store)  # type: ignore[arg-type]
    app.add_url_rule("/page", "page", lambda: "<p>page</p>")
    app.add_url_rule("/data", "data", lambda: jsonify(a=1))
    app.add_url_rule("/cached", "cached", lambda: ("<p>x</p>", 200, {"Cache-Control": "max-age=60"}))
    client = app.test_client()
    page = client.get("/page")
    assert page.headers["Content-Security-Policy"] == "default-src 'self'"
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Strict-Transport-Security"] == headers.HSTS
    assert page.headers["Cache-Control"] == "no-store"
    assert client.get("/data").headers.get("Cache-Control") == ("no-store" if no_store == "all" else None)
    assert client.get("/cached").headers["Cache-Control"] == "max-age=60", "a view's own value is kept"


def test_security_headers_on_every_response_once_and_a_views_own_kept() -> None:
    """Errors (404, 405, 500) carry them too; a header the view set, in any case, is kept and never doubled; HTML
    is recognised whatever the case of its Content-Type."""
    app = Flask(__name__)
    headers.install(app, csp="default-src 'self'", hsts=False)
    app.add_url_rule("/boom", "boom", lambda: 1 / 0)
    app.add_url_rule(
        "/own",
        "own",
        lambda: ("<p>x</p>", 200, {"content-security-policy": "default-src 'none'", "x-frame-options": "SAMEORIGIN"}),
    )
    app.add_url_rule("/upper", "upper", lambda: ("<p>x</p>", 200, {"Content-Type": "TEXT/HTML; Charset=UTF-8"}))
    app.add_url_rule("/text", "text", lambda: ("x", 200, {"Content-Type": "text/plain; charset=utf-8"}))
    client = app.test_client()
    expected = dict(headers.security_headers(csp="default-src 'self'", hsts=False))
    for path, status in (("/nowhere", 404), ("/boom", 500), ("/upper", 200)):
        answer = client.get(path)
        assert answer.status_code == status
        for name, value in expected.items():
            assert answer.headers.getlist(name) == [value], (path, name)
        assert answer.headers.getlist("Cache-Control") == ["no-store"], path
        assert "Strict-Transport-Security" not in answer.headers
    assert client.post("/upper").status_code == 405
    assert client.post("/upper").headers["X-Frame-Options"] == "DENY"
    own = client.get("/own")
    assert own.headers.getlist("Content-Security-Policy") == ["default-src 'none'"]
    assert own.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert own.headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/text").headers.get("Cache-Control") is None


def test_error_pages_are_french_and_never_a_traceback() -> None:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "test-secret-0123456789"
    app.jinja_env.loader = DictLoader({"error.html": "<h1>{{ title }}</h1><p>{{ message }}</p>"})
    CSRFProtect(app)
    errors.install(app, template="error.html", messages={404: ("Introuvable", "Rien ici.")})
    app.add_url_rule("/me", "me", lambda: "moi")
    app.add_url_rule("/boom", "boom", lambda: 1 / 0)
    app.add_url_rule("/denied", "denied", lambda: abort(403))
    app.add_url_rule("/form", "form", lambda: "ok", methods=["POST"])
    client = app.test_client()
    boom = client.get("/boom")
    assert boom.status_code == 500 and "Erreur technique" in boom.get_data(as_text=True)
    assert "ZeroDivisionError" not in boom.get_data(as_text=True)
    assert client.get("/nowhere").status_code == 404 and "Rien ici." in client.get("/nowhere").get_data(as_text=True)
    assert "Accès refusé" in client.get("/denied").get_data(as_text=True)
    expired = client.post("/form")
    assert expired.status_code == 400 and "Page expirée" in expired.get_data(as_text=True)
    assert client.post("/me").status_code == 405


def test_health_names_the_failing_dependency_only() -> None:
    app = Flask(__name__)

    def broken(_: Flask) -> None:
        raise ConnectionError("10.0.0.5:5432 refused for user secret-account")

    health.install(app, {"ok": lambda _: None, "database": broken})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "checks": {"ok": "ok", "database": "error"}}
    assert "10.0.0.5" not in response.get_data(as_text=True)


@pytest.mark.parametrize(("count", "address"), [(0, "127.0.0.1"), (1, "203.0.113.9"), (2, "198.51.100.7")])
def test_trusted_proxies(count: int, address: str) -> None:
    app = Flask(__name__)
    proxy.trust_proxies(app, count)
    app.add_url_rule("/who", "who", lambda: jsonify(address=request.remote_addr, scheme=request.scheme))
    answer = app.test_client().get(
        "/who", headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9", "X-Forwarded-Proto": "https"}
    )
    assert answer.get_json() == {"address": address, "scheme": "https" if count else "http"}
    with pytest.raises(ValueError, match="zero or more"):
        proxy.trust_proxies(app, -1)


def test_readyz_fails_while_draining_and_healthz_does_not(tmp_path: Path) -> None:
    """The proxy's check (/readyz) takes a draining replica out of the rotation; the orchestrator's (/healthz) does not
    restart it for that; a replica whose drain file is gone (a restart empties its tmpfs) is ready again."""
    drain = tmp_path / "draining"
    app = Flask(__name__)
    app.config["DRAIN_PATH"] = str(drain)
    health.install(app, {"database": lambda _: None})
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "checks": {"draining": "ok"}}
    drain.touch()
    draining = client.get("/readyz")
    assert draining.status_code == 503
    assert draining.get_json() == {"status": "unavailable", "checks": {"draining": "error"}}
    assert draining.headers["Cache-Control"] == "no-store"
    assert client.get("/healthz").status_code == 200
    drain.unlink()
    assert client.get("/readyz").status_code == 200


def test_readyz_stays_ready_when_a_shared_dependency_fails() -> None:
    """Every replica shares the database and the store: their outage must not take every replica out of the proxy's
    rotation (the voters would get the proxy's empty 503, not the apps' French page). /healthz reports it."""
    app = Flask(__name__)
    calls: list[str] = []

    def broken(_: Flask) -> None:
        calls.append("checked")
        raise ConnectionError("refused")

    health.install(app, {"database": broken})
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "checks": {"draining": "ok"}}
    assert calls == [], "no dependency is asked"
    assert client.get("/healthz").status_code == 503
