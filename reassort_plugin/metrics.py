"""The réassort's metrics, counted from its audit events once their transaction commits (through the IdP's
:func:`idp.plugin_api.observe_events`): requests, links sent, links opened, codes and passwords generated, locks.

The funnel an operator follows on election day: requested → link sent → link opened → code generated, by kind
(``code``, ``password``) and channel (``sms``, ``email``, ``franceconnect``). Labels come from fixed lists only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter

from idp.plugin_api import bounded_label

PREFIX = "elections_reassort_"
KINDS = ("code", "password")
CHANNELS = ("sms", "email", "franceconnect")

REQUESTS = Counter(
    PREFIX + "requests",
    "Réassort requests by kind, channel and outcome: requested (identity checked, a link follows), failed (wrong "
    "answer, NUMEN/NIR or no such voter: counted towards the lock), rejected (malformed), refused (outside the "
    "window, too many links), throttled (locked), franceconnect_refused (another voter's identity).",
    ["kind", "channel", "outcome"],
)
LINKS_SENT = Counter(
    PREFIX + "links_sent",
    "Single-use réassort links queued for delivery (sms, email) or granted in the browser (franceconnect).",
    ["kind", "channel"],
)
LINKS_OPENED = Counter(
    PREFIX + "links_opened", "Live réassort links opened (GET), by kind and channel.", ["kind", "channel"]
)
LINKS_REFUSED = Counter(
    PREFIX + "links_refused",
    "Réassort links refused when opened or used: expired, already used, or outside the election window.",
    ["kind", "channel"],
)
GENERATED = Counter(
    PREFIX + "codes_generated",
    "Vote codes generated (kind code) and election passwords changed (kind password) from a réassort link.",
    ["kind", "channel"],
)
LOCKOUTS = Counter(
    PREFIX + "lockouts", "Réassort locks set after repeated failures, by scope (voter, address).", ["scope"]
)

_OUTCOMES = {
    "reassort.requested": "requested",
    "reassort.failed": "failed",
    "reassort.rejected": "rejected",
    "reassort.refused": "refused",
    "reassort.throttled": "throttled",
    "reassort.franceconnect_refused": "franceconnect_refused",
}


def observe(type: str, data: Mapping[str, Any], client_id: str | None) -> None:
    """Count a committed audit event of the réassort (registered with the IdP by the plugin)."""
    if not type.startswith("reassort."):
        return
    kind = bounded_label(data.get("kind"), KINDS)
    channel = bounded_label(data.get("channel"), CHANNELS)
    if type in _OUTCOMES:
        REQUESTS.labels(kind, channel, _OUTCOMES[type]).inc()
    elif type in ("reassort.link_sent", "reassort.link_granted"):
        LINKS_SENT.labels(kind, "franceconnect" if type == "reassort.link_granted" else channel).inc()
    elif type == "reassort.link_opened":
        LINKS_OPENED.labels(kind, channel).inc()
    elif type == "reassort.link_refused":
        LINKS_REFUSED.labels(kind, channel).inc()
    elif type == "reassort.code_generated":
        GENERATED.labels("code", channel).inc()
    elif type == "reassort.password_changed":
        GENERATED.labels("password", channel).inc()
    elif type == "reassort.locked":
        LOCKOUTS.labels(bounded_label(data.get("scope"), ("voter", "address"))).inc()
