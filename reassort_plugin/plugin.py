"""The plugin object the IdP loads from the entry point: checks its settings, registers its blueprint, audit
vocabulary, choices and links."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from idp.plugin_api import (
    PluginError,
    PluginRegistry,
    election_window,
    franceconnect_enabled,
    observe_events,
    on_screen_shown,
    register_event_types,
)
from reassort_plugin import choices, metrics, navigation, settings
from reassort_plugin.events import EVENT_TYPES
from reassort_plugin.settings import EXTENSION_KEY, Settings

#: The labels of the links on the IdP's pages, as in the seed.
VOTE_CODE_LINK = "Cliquez ici pour obtenir un réassort de votre code de vote"
PASSWORD_LINK = "Besoin du réassort de votre mot de passe Élections ?"  # noqa: S105 - a label


class ReassortPlugin:
    name = "reassort"
    #: Its own settings (``IDP_REASSORT_*``), which the IdP reads and checks before :meth:`register`.
    DEFAULTS = settings.DEFAULTS

    def check_settings(self, config: Mapping[str, Any]) -> None:
        settings.check(config)

    def register(self, app: Flask, registry: PluginRegistry) -> None:
        with app.app_context():
            window = election_window()
        if app.config["ENV"] == "production" and not window.is_complete():
            raise PluginError(
                "the reassort plugin needs IDP_ELECTION_SEALED_AT and IDP_ELECTION_CLOSES_AT in production: "
                "a vote code may only be re-issued inside the election window"
            )
        app.extensions[EXTENSION_KEY] = Settings.from_config(app.config)
        register_event_types(EVENT_TYPES)
        observe_events(metrics.observe)
        choices.add_choice(app, choices.QUESTION_DEFI)
        if franceconnect_enabled(app):
            # Only what works is offered: without the IdP's federation the choice page shows the défi alone.
            choices.add_choice(app, choices.FRANCECONNECT)

        from reassort_plugin.views import bp

        app.register_blueprint(bp)
        on_screen_shown(app, navigation.note_screen)
        registry.add_link("vote_code_page", "reassort.code_choice", VOTE_CODE_LINK)
        registry.add_link("password_page", "reassort.password_request", PASSWORD_LINK)
