"""The templates' links, built once per process (infra.links): the same URLs as Flask's, built once each, and
built every time wherever a kept one could be wrong."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Blueprint, Flask, render_template_string

from infra import links
from infra.application import new_app

PAGE = (
    "{{ url_for('home') }}|{{ url_for('item', code='A1', page=2) }}|{{ url_for('static', filename='s.css') }}|"
    "{{ url_for('bp.inner') }}"
)


def make() -> Flask:
    app = new_app(
        __name__,
        {"SECRET_KEY": "test-secret-0123456789", "SESSION_COOKIE_NAME": "s", "TESTING": True},
        secure_cookies=False,
        max_content_length=1024,
    )
    app.add_url_rule("/", "home", lambda: render_template_string(PAGE))
    app.add_url_rule("/item/<code>", "item", lambda code: code)
    blueprint = Blueprint("bp", __name__)
    blueprint.add_url_rule("/inner", "inner", lambda: render_template_string("{{ url_for('.inner') }}"))
    app.register_blueprint(blueprint)
    return app


def counting(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The endpoints whose link Flask built (not taken from what was kept)."""
    built: list[str] = []
    kept: links.Links = app.extensions[links.EXTENSION_KEY]
    original = kept.build

    def build(endpoint: str, **values: Any) -> str:
        built.append(endpoint)
        return original(endpoint, **values)

    monkeypatch.setattr(kept, "build", build)
    return built


def test_the_links_are_flasks_and_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    app = make()
    built = counting(app, monkeypatch)
    client = app.test_client()
    assert client.get("/").get_data(as_text=True) == "/|/item/A1?page=2|/static/s.css|/inner"
    assert len(built) == 4
    assert client.get("/").get_data(as_text=True) == "/|/item/A1?page=2|/static/s.css|/inner"
    assert len(built) == 4, "the second page took them from what was kept"
    mounted = client.get("/", environ_overrides={"SCRIPT_NAME": "/portail"}).get_data(as_text=True)
    assert mounted == "/portail/|/portail/item/A1?page=2|/portail/static/s.css|/portail/inner"
    assert len(built) == 8, "another script root: other links"


def test_what_is_never_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    app = make()
    built = counting(app, monkeypatch)
    with app.test_request_context("/inner"):
        app.preprocess_request()
        for _ in range(2):
            assert links.url_for("home", _external=True) == "http://localhost/"
            assert links.url_for("item", code="A1", page=True) == "/item/A1?page=True"
            assert links.url_for("item", code="A1", page=1) == "/item/A1?page=1"
    assert built == ["home", "item", "item", "home", "item"], "options and non-plain values are built every time"
    assert app.test_client().get("/inner").get_data(as_text=True) == "/inner"
    assert app.test_client().get("/inner").get_data(as_text=True) == "/inner"
    assert built.count(".inner") == 2, "a relative endpoint depends on the request's blueprint"
    app.config["SERVER_NAME"] = "portail.example.fr"
    with app.app_context():
        assert links.url_for("home") == "http://portail.example.fr/", "outside a request: Flask's own answer"


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    app = make()
    monkeypatch.setattr(links, "MAX_LINKS", 3)
    kept: links.Links = app.extensions[links.EXTENSION_KEY]
    with app.test_request_context("/"):
        for n in range(10):
            assert links.url_for("item", code=f"C{n}") == f"/item/C{n}"
    assert len(kept.kept) == 3


def test_an_app_with_url_defaults_builds_every_link(monkeypatch: pytest.MonkeyPatch) -> None:
    app = make()
    app.url_defaults(lambda endpoint, values: values.setdefault("code", "X") if endpoint == "item" else None)
    built = counting(app, monkeypatch)
    with app.test_request_context("/"):
        assert links.url_for("item") == "/item/X"
        assert links.url_for("item") == "/item/X"
    assert built == ["item", "item"]
