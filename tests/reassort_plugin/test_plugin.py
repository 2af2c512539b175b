"""The réassort plugin as a plugin: discovered through its entry point, links in the IdP's places, its audit
vocabulary, its own settings read by the IdP, and the election-window settings (its import boundary is a contract of
tests/test_architecture.py)."""

from __future__ import annotations

import inspect as pyinspect
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any, ClassVar

import pytest
from flask import Flask

import idp.plugin_api as plugin_api
import idp.plugins
from idp import create_app
from idp.audit import EVENT_TYPES
from idp.db import get_db
from idp.plugins import ENTRY_POINT_GROUP, EXTENSION_KEY, PluginError, PluginRegistry
from infra.config import ConfigError
from reassort_plugin import ReassortPlugin
from reassort_plugin.events import EVENT_TYPES as PLUGIN_EVENT_TYPES
from reassort_plugin.settings import EXTENSION_KEY as SETTINGS_KEY
from tests.helpers import AuthActions

VOTE_CODE_LINK = '<a href="/reassort/code">Cliquez ici pour obtenir un réassort de votre code de vote</a>'
PASSWORD_LINK = '<a href="/reassort/mot-de-passe">Besoin du réassort de votre mot de passe Élections ?</a>'


def test_the_entry_point_names_the_plugin_class():
    [entry] = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "reassort"]
    assert entry.value == "reassort_plugin:ReassortPlugin"
    assert entry.load() is ReassortPlugin


def test_enabled_plugin_is_registered(app):
    assert app.extensions[EXTENSION_KEY].enabled == ["reassort"]
    assert "reassort" in app.blueprints


def test_every_name_of_the_plugin_api_exists_and_its_functions_say_why():
    for name in plugin_api.__all__:
        value = getattr(plugin_api, name)
        if pyinspect.isfunction(value) and value.__module__ == plugin_api.__name__:
            assert value.__doc__ and len(value.__doc__) > 40, f"plugin_api.{name} has no explanation"
    # Re-exports are explained in the module docstring.
    for name in ("record", "register_event_types", "enqueue", "get_session", "password_problems", "Throttle"):
        assert f"``{name}" in (plugin_api.__doc__ or ""), name


def test_links_appear_in_the_places_of_the_vote_code_and_password_pages(app, client, signed_in):
    assert VOTE_CODE_LINK in client.get("/login/vote-code").get_data(as_text=True)
    other = app.test_client()
    assert AuthActions(other).submit_identifier(signed_in.identifier).status_code == 302
    assert PASSWORD_LINK in other.get("/login/password").get_data(as_text=True)


def test_audit_vocabulary_is_registered_and_records_no_address(app):
    for name, meaning in PLUGIN_EVENT_TYPES.items():
        assert EVENT_TYPES[name] == meaning
    assert {
        "reassort.requested",
        "reassort.failed",
        "reassort.locked",
        "reassort.link_sent",
        "reassort.link_opened",
        "reassort.code_generated",
        "reassort.password_changed",
    } <= set(PLUGIN_EVENT_TYPES)


def production_app(**window: Any) -> Flask:
    """A bare Flask app with the production settings the plugin reads (``create_app`` is tested below)."""
    from idp.config import DEFAULTS

    application = Flask("production-check")
    application.config.update({**DEFAULTS, **ReassortPlugin.DEFAULTS, "ENV": "production", **window})
    return application


def test_production_refuses_to_start_without_the_election_window():
    with pytest.raises(PluginError, match="IDP_ELECTION_SEALED_AT and IDP_ELECTION_CLOSES_AT"):
        ReassortPlugin().register(production_app(), PluginRegistry())
    with pytest.raises(PluginError):
        ReassortPlugin().register(production_app(ELECTION_SEALED_AT="2022-11-30T08:00:00+01:00"), PluginRegistry())


def test_production_starts_with_the_election_window():
    registry = PluginRegistry()
    application = production_app(
        ELECTION_SEALED_AT="2022-11-30T08:00:00+01:00", ELECTION_CLOSES_AT="2022-12-08T17:00:00+01:00"
    )
    ReassortPlugin().register(application, registry)
    assert "reassort" in application.blueprints
    assert [link.endpoint for link in registry.links["vote_code_page"]] == ["reassort.code_choice"]
    assert [link.endpoint for link in registry.links["password_page"]] == ["reassort.password_request"]


@pytest.mark.parametrize(
    ("sealed", "closes", "message"),
    [
        ("le 1er décembre", None, "must be an ISO 8601 instant"),
        ("2022-12-01T08:00:00", None, "must give its UTC offset"),
        ("2022-12-08T17:00:00+01:00", "2022-12-01T08:00:00+01:00", "must be later than"),
    ],
)
def test_malformed_election_window_is_refused_at_start(app_config, sealed, closes, message):
    with pytest.raises(ValueError, match=message):
        create_app({**app_config, "ELECTION_SEALED_AT": sealed, "ELECTION_CLOSES_AT": closes})


@pytest.fixture
def build() -> Iterator[Callable[..., Flask]]:
    """``create_app`` with an environment of the test's own; the apps' databases closed at teardown."""
    made: list[Flask] = []

    def create(config: dict[str, Any], environ: dict[str, str]) -> Flask:
        application = create_app(config, environ=environ)
        made.append(application)
        return application

    yield create
    for application in made:
        get_db(application).dispose()


def test_the_plugin_settings_are_read_like_the_idps(app_config, build):
    from_env = build(app_config, {"IDP_REASSORT_LINK_TTL": "900"})
    assert from_env.config["REASSORT_LINK_TTL"] == 900
    assert from_env.extensions[SETTINGS_KEY].link_ttl == 900
    assert from_env.extensions[SETTINGS_KEY].links_per_hour == 5  # its default
    # The caller's mapping comes last, as for the IdP's own settings.
    given = build({**app_config, "REASSORT_LINK_TTL": 600}, {"IDP_REASSORT_LINK_TTL": "900"})
    assert given.extensions[SETTINGS_KEY].link_ttl == 600


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"IDP_REASSORT_LINKS_PER_HOUR": "0"}, "IDP_REASSORT_LINKS_PER_HOUR must be a positive integer, got 0"),
        ({"IDP_REASSORT_IP_WINDOW": "five"}, "IDP_REASSORT_IP_WINDOW must be an integer, got 'five'"),
    ],
)
def test_bad_plugin_settings_stop_the_idp_at_start(app_config, environ, message):
    with pytest.raises(ConfigError) as refused:
        create_app(app_config, environ=environ)
    assert str(refused.value) == message


def test_without_the_plugin_the_idp_has_none_of_its_settings(app_config, build):
    bare = build({**app_config, "PLUGINS": ""}, {"IDP_REASSORT_LINK_TTL": "0"})
    assert not [name for name in bare.config if name.startswith("REASSORT_")]


def test_a_plugin_may_not_declare_a_setting_of_the_idp(app_config, monkeypatch):
    class Greedy:
        name = "greedy"
        DEFAULTS: ClassVar[dict[str, int]] = {"LOCKOUT_THRESHOLD": 1000}

        def register(self, app: Flask, registry: PluginRegistry) -> None:
            raise AssertionError("never registered")

    class Entry:
        name = "greedy"

        def load(self) -> type[Greedy]:
            return Greedy

    monkeypatch.setattr(idp.plugins, "entry_points", lambda group: [Entry()])
    with pytest.raises(PluginError, match="declares settings of the IdP's own: LOCKOUT_THRESHOLD"):
        create_app({**app_config, "PLUGINS": "greedy"})
