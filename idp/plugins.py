"""Extension points of the IdP, and the discovery of plugins through an entry-point group.

This module is internal; plugins use :mod:`idp.plugin_api`, the one module that says what a plugin may touch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol

from flask import Flask, current_app

from idp.config import SETTINGS
from infra.config import Settings

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "portail_elections.idp_plugins"
EXTENSION_KEY = "idp.plugins"

#: The named places of the IdP's screens where plugins may add links.
PLACES = ("password_page", "vote_code_page", "identifier_page")


@dataclass(frozen=True)
class Link:
    endpoint: str
    label: str


class Plugin(Protocol):
    """What an IdP plugin provides: a name and a ``register(app, registry)`` hook.

    A plugin with settings of its own also has ``DEFAULTS`` (a mapping like the IdP's: names without the ``IDP_``
    prefix, each with its default and a comment above it) and may have ``check_settings(config)``, which raises
    ``ConfigError`` naming the variable. Before ``register`` the IdP reads those settings like its own (defaults,
    then ``IDP_*`` or ``IDP_*_FILE`` variables, then what the caller of ``create_app`` passed), checks them and adds
    them to ``app.config``.
    """

    name: str

    def register(self, app: Flask, registry: PluginRegistry) -> None: ...


@dataclass
class PluginRegistry:
    enabled: list[str] = field(default_factory=list)
    links: dict[str, list[Link]] = field(default_factory=lambda: {place: [] for place in PLACES})

    def add_link(self, place: str, endpoint: str, label: str) -> None:
        if place not in self.links:
            raise ValueError(f"unknown place {place!r}; the IdP offers {', '.join(PLACES)}")
        self.links[place].append(Link(endpoint, label))


class PluginError(RuntimeError):
    pass


def enabled_plugins(config: Mapping[str, Any]) -> list[Plugin]:
    """The plugins named in ``IDP_PLUGINS`` (comma-separated), found through the entry point; unknown names refused."""
    wanted = [name.strip() for name in str(config.get("PLUGINS") or "").split(",") if name.strip()]
    if not wanted:
        return []
    available = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    plugins: list[Plugin] = []
    for name in wanted:
        if name not in available:
            raise PluginError(
                f"plugin {name!r} is enabled in IDP_PLUGINS but not installed "
                f"(installed: {', '.join(sorted(available)) or 'none'})"
            )
        plugin = available[name].load()
        plugins.append(plugin() if isinstance(plugin, type) else plugin)
    return plugins


def plugin_settings(
    plugins: list[Plugin], environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The plugins' own settings, read like the IdP's from ``environ`` and ``overrides`` (what ``create_app`` read
    its settings from), and checked by each plugin before anything is built."""
    settings: dict[str, Any] = {}
    for plugin in plugins:
        defaults: Mapping[str, Any] = getattr(plugin, "DEFAULTS", {})
        taken = sorted(set(defaults) & (set(SETTINGS.defaults) | set(settings)))
        if taken:
            raise PluginError(f"plugin {plugin.name!r} declares settings of the IdP's own: {', '.join(taken)}")
        given = {name: value for name, value in (overrides or {}).items() if name in defaults}
        own = Settings(SETTINGS.prefix, defaults).load(environ, given)
        check = getattr(plugin, "check_settings", None)
        if check is not None:
            check(own)
        settings.update(own)
    return settings


def load_plugins(app: Flask, plugins: list[Plugin]) -> PluginRegistry:
    """Register ``plugins`` (from :func:`enabled_plugins`, their settings already in ``app.config``) in ``app``."""
    registry = PluginRegistry()
    app.extensions[EXTENSION_KEY] = registry
    for plugin in plugins:
        plugin.register(app, registry)
        registry.enabled.append(plugin.name)
        logger.info("IdP plugin %s enabled", plugin.name)
    return registry


def links_for(place: str) -> list[Link]:
    registry = current_app.extensions.get(EXTENSION_KEY)
    if registry is None:
        return []
    assert isinstance(registry, PluginRegistry)
    return registry.links.get(place, [])
