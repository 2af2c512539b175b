"""The plugin's settings, read once from the IdP configuration (``IDP_REASSORT_*``) when the plugin registers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app

from idp.plugin_api import Limit
from templates.durations import Length, format_duration

EXTENSION_KEY = "reassort.settings"


@dataclass(frozen=True)
class Settings:
    #: Seconds a link stays valid.
    link_ttl: int
    #: Wrong answers per voter (identifier) before the voter's réassort is locked.
    voter_limit: Limit
    #: Wrong answers per client address before the address is refused.
    address_limit: Limit
    #: Links one voter may be sent per hour.
    links_per_hour: int

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Settings:
        return cls(
            link_ttl=int(cfg["REASSORT_LINK_TTL"]),
            voter_limit=Limit(
                int(cfg["REASSORT_LOCKOUT_THRESHOLD"]),
                int(cfg["REASSORT_LOCKOUT_WINDOW"]),
                int(cfg["REASSORT_LOCKOUT_DURATION"]),
            ),
            address_limit=Limit(
                int(cfg["REASSORT_IP_THRESHOLD"]), int(cfg["REASSORT_IP_WINDOW"]), int(cfg["REASSORT_IP_WINDOW"])
            ),
            links_per_hour=int(cfg["REASSORT_LINKS_PER_HOUR"]),
        )

    def link_validity(self, length: Length = "long") -> str:
        """How long a link lives, in French words for the voter (« 30 minutes »; ``short`` for an SMS: « 30 min »)."""
        return format_duration(self.link_ttl, largest="hour", length=length)


def settings() -> Settings:
    value = current_app.extensions[EXTENSION_KEY]
    assert isinstance(value, Settings)
    return value
