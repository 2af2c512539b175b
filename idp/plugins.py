"""Extension points of the IdP, and the discovery of plugins through an entry-point group.

This module is internal; plugins use :mod:`idp.plugin_api`, the one module that says what a plugin may touch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Protocol

from flask import Flask, current_app

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
    """What an IdP plugin provides: a name and a ``register(app, registry)`` hook."""

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


def load_plugins(app: Flask) -> PluginRegistry:
    """Load the plugins named in ``IDP_PLUGINS`` (comma-separated), refusing unknown names."""
    registry = PluginRegistry()
    app.extensions[EXTENSION_KEY] = registry
    wanted = [name.strip() for name in str(app.config.get("PLUGINS") or "").split(",") if name.strip()]
    if not wanted:
        return registry
    available = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    for name in wanted:
        if name not in available:
            raise PluginError(
                f"plugin {name!r} is enabled in IDP_PLUGINS but not installed "
                f"(installed: {', '.join(sorted(available)) or 'none'})"
            )
        plugin = available[name].load()
        instance = plugin() if isinstance(plugin, type) else plugin
        instance.register(app, registry)
        registry.enabled.append(name)
        logger.info("IdP plugin %s enabled", name)
    return registry


def links_for(place: str) -> list[Link]:
    registry = current_app.extensions.get(EXTENSION_KEY)
    if registry is None:
        return []
    assert isinstance(registry, PluginRegistry)
    return registry.links.get(place, [])
