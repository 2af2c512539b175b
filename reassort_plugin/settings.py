"""The plugin's settings: declared here (``DEFAULTS``), read by the IdP like its own (``IDP_REASSORT_*`` variables,
or what the caller of ``create_app`` passed) and checked (:func:`check`) before the plugin registers, then kept as
:class:`Settings` on the application."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app

from idp.plugin_api import Limit, check_positive
from templates.durations import Length, format_duration

EXTENSION_KEY = "reassort.settings"

#: The plugin's settings and their defaults; the variable is ``IDP_`` + the name. Each comment is the setting's
#: line in the generated configuration reference (tools/config_reference.py).
DEFAULTS: dict[str, Any] = {
    # --- Réassort plugin (enabled with IDP_PLUGINS=reassort) ---
    # Seconds a réassort link (SMS or e-mail) stays valid: long enough for a late SMS (the 2022 codes lasted 120 s).
    "REASSORT_LINK_TTL": 1800,
    # Wrong answers (défi, NUMEN/NIR) per voter, within REASSORT_LOCKOUT_WINDOW, that lock the voter's réassort
    # (the code and password réassorts share the count: they check the same secrets).
    "REASSORT_LOCKOUT_THRESHOLD": 5,
    # Seconds over which a voter's wrong réassort answers are counted.
    "REASSORT_LOCKOUT_WINDOW": 3600,
    # Seconds a voter's réassort stays locked; the voter is told when to retry.
    "REASSORT_LOCKOUT_DURATION": 1800,
    # Wrong answers per client address, within REASSORT_IP_WINDOW, before the address is refused for that window;
    # high because a school's staff share one address.
    "REASSORT_IP_THRESHOLD": 50,
    # Seconds over which a client address's wrong réassort answers are counted, and for which it is then refused.
    "REASSORT_IP_WINDOW": 300,
    # Links one voter may be sent per hour (each costs an SMS, and a recipient must not be flooded).
    "REASSORT_LINKS_PER_HOUR": 5,
}


def check(config: Mapping[str, Any]) -> None:
    """Every setting is a positive integer (``IDP_REASSORT_LINK_TTL must be a positive integer, got 0``)."""
    check_positive(config, DEFAULTS)


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
