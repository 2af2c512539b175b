"""The réassort plugin as a plugin: discovered through its entry point, links in the IdP's places, its audit
vocabulary, and the election-window settings (its import boundary is a contract of tests/test_architecture.py)."""

from __future__ import annotations

import inspect as pyinspect
from importlib.metadata import entry_points
from typing import Any

import pytest
from flask import Flask

import idp.plugin_api as plugin_api
from idp import create_app
from idp.audit import EVENT_TYPES
from idp.plugins import ENTRY_POINT_GROUP, EXTENSION_KEY, PluginError, PluginRegistry
from reassort_plugin import ReassortPlugin
from reassort_plugin.events import EVENT_TYPES as PLUGIN_EVENT_TYPES
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
    application.config.update({**DEFAULTS, "ENV": "production", **window})
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
