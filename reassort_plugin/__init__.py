"""Réassort: a voter who lost their vote code or election password gets a new one in a few minutes.

An IdP plugin (entry point ``reassort`` of ``portail_elections.idp_plugins``, enabled with ``IDP_PLUGINS=reassort``).
It imports nothing from ``idp`` but :mod:`idp.plugin_api`. See docs/plugins/reassort.md.
"""

from __future__ import annotations

from reassort_plugin.plugin import ReassortPlugin

__all__ = ["ReassortPlugin"]
