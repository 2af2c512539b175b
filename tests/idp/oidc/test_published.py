"""Discovery and JWKS as precomputed documents: a strong ``ETag``, ``304 Not Modified`` on ``If-None-Match``,
caching headers a proxy honours, the same answer whether the middleware or the Flask view gives it, no database
read while the key snapshot is fresh, and a new ETag as soon as the published keys change (rotation, retirement)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

import pytest
from sqlalchemy import update

from idp.db import get_db
from idp.oidc.cli import keys as keys_command
from idp.oidc.models import OidcSigningKey
from idp.oidc.provider import get_provider
from tests.idp.oidc.test_statements import recording
from tests.metrics_helpers import value

pytest_plugins = ["tests.oidc_fixtures"]

PATHS = ["/.well-known/openid-configuration", "/jwks.json"]


def requests_counted(route):
    return value("elections_http_requests_total", app="idp", route=route, method="GET", status="200")


def without_request_id(response):
    return sorted((name, value) for name, value in response.headers.items() if name != "X-Request-Id")


def rotate(app, *args):
    result = app.test_cli_runner().invoke(keys_command, ["rotate", *args])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("path", PATHS)
def test_a_revalidation_with_the_current_etag_is_answered_304_without_a_body(flow, path):
    first = flow.client.get(path)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 20
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    for header in [etag, f"W/{etag}", f'"something-else", {etag}', "*"]:
        again = flow.client.get(path, headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.get_data() == b""
        assert again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == first.headers["Cache-Control"]
        assert "Content-Type" not in again.headers
    stale = flow.client.get(path, headers={"If-None-Match": '"an-old-version"'})
    assert stale.status_code == 200
    assert stale.get_data() == first.get_data()


@pytest.mark.parametrize("path", PATHS)
def test_head_answers_the_headers_of_get_without_the_body(flow, path):
    got = flow.client.get(path)
    head = flow.client.head(path)
    assert head.status_code == 200
    assert head.get_data() == b""
    assert head.headers["ETag"] == got.headers["ETag"]
    assert head.headers["Content-Length"] == str(len(got.get_data()))


def test_the_middleware_and_the_view_give_the_same_answer(app, flow):
    """The first JWKS request reads the keys (the view), the next is answered from memory with no statement at
    all; same bytes, same headers, security headers included."""
    get_provider(app).keys._ring = None  # a stale snapshot: the view answers
    by_view = flow.client.get("/jwks.json")
    counted = requests_counted("/jwks.json")
    with recording(app) as recorded:
        from_memory = flow.client.get("/jwks.json")
        discovery = flow.client.get("/.well-known/openid-configuration")
    assert recorded.statements == []
    # Still observed like any request: counted under its route (infra.observability).
    assert requests_counted("/jwks.json") == counted + 1
    assert from_memory.get_data() == by_view.get_data()
    # Every answer has its own request id (infra.observability); everything else is the same.
    assert by_view.headers["X-Request-Id"] != from_memory.headers["X-Request-Id"]
    assert without_request_id(from_memory) == without_request_id(by_view)
    for response in (from_memory, discovery):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert "Set-Cookie" not in response.headers
    assert from_memory.mimetype == "application/jwk-set+json"
    assert discovery.mimetype == "application/json"
    assert discovery.get_json()["jwks_uri"].endswith("/jwks.json")


def test_the_jwks_max_age_is_shorter_than_the_activation_delay(app, flow):
    response = flow.client.get("/jwks.json")
    max_age = int(response.headers["Cache-Control"].removeprefix("public, max-age="))
    keys = get_provider(app).keys
    assert max_age == keys.jwks_max_age
    assert 0 < max_age + keys.ring_seconds < app.config["KEY_ACTIVATION_DELAY"] / 2


def test_a_rotation_changes_the_etag_and_publishes_the_new_key(app, flow):
    before = flow.client.get("/jwks.json")
    old_etag = before.headers["ETag"]
    assert flow.client.get("/jwks.json", headers={"If-None-Match": old_etag}).status_code == 304
    rotate(app, "--alg", "ES256")
    after = flow.client.get("/jwks.json", headers={"If-None-Match": old_etag})
    assert after.status_code == 200
    assert after.headers["ETag"] != old_etag
    old_kids = {k["kid"] for k in before.get_json()["keys"]}
    new_kids = {k["kid"] for k in after.get_json()["keys"]}
    assert old_kids < new_kids and len(new_kids - old_kids) == 1
    assert flow.client.get("/jwks.json", headers={"If-None-Match": after.headers["ETag"]}).status_code == 304


def test_a_key_reaching_its_retirement_leaves_the_document_at_that_instant(app, flow):
    with app.app_context(), get_db(app).transaction() as session:
        session.execute(
            update(OidcSigningKey)
            .where(OidcSigningKey.alg == "RS256")
            .values(retire_after=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
        )
    before = flow.client.get("/jwks.json")
    assert sorted(k["alg"] for k in before.get_json()["keys"]) == ["ES256", "RS256"]
    time.sleep(1.1)
    after = flow.client.get("/jwks.json", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert [k["alg"] for k in after.get_json()["keys"]] == ["ES256"]
    assert after.headers["ETag"] != before.headers["ETag"]


@pytest.mark.parametrize("path", PATHS)
def test_every_answer_from_memory_is_logged_and_counted_under_its_route(app, flow, path):
    """200, 304 and HEAD answered without Flask still have their request id, their metrics (method and status) and
    their request line, the same bytes as the line of any other request (tests/infra/test_observability.py)."""
    from infra.logs import FIELDS, JsonFormatter
    from tests.infra.test_observability import reference_line

    flow.client.get(path)  # built once
    etag = flow.client.get(path).headers["ETag"]
    formatter = JsonFormatter()
    seen: list[tuple[str, str]] = []

    class Both(logging.Handler):
        def emit(self, record):
            seen.append((formatter.format(record), reference_line(record)))
            assert getattr(record, FIELDS)["route"] == path

    def counted(method, status):
        return value("elections_http_requests_total", app="idp", route=path, method=method, status=status)

    before = {key: counted(*key) for key in [("GET", "200"), ("GET", "304"), ("HEAD", "200")]}
    # Answered first by the request observer: the application behind it (Flask, its middlewares) never runs.
    observer = app.wsgi_app
    inner = observer.wsgi_app
    reached: list[str] = []

    def application(environ, start_response):
        reached.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    observer.wsgi_app = application
    handler = Both()
    logger = logging.getLogger("elections.request")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        with recording(app) as recorded:
            answers = [
                flow.client.get(path),
                flow.client.get(path, headers={"If-None-Match": etag}),
                flow.client.head(path),
            ]
    finally:
        observer.wsgi_app = inner
        logger.removeHandler(handler)
        logger.setLevel(previous)
    assert reached == []
    assert recorded.statements == []  # from memory
    assert [a.status_code for a in answers] == [200, 304, 200]
    assert {key: counted(*key) - before[key] for key in before} == {key: 1 for key in before}
    assert len(seen) == 3
    lines = [json.loads(line) for line, reference in seen if line == reference]
    assert len(lines) == 3
    assert [(line["method"], line["status"], line["route"]) for line in lines] == [
        ("GET", 200, path),
        ("GET", 304, path),
        ("HEAD", 200, path),
    ]
    assert [line["request_id"] for line in lines] == [a.headers["X-Request-Id"] for a in answers]
