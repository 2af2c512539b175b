"""The plugin's audit vocabulary, registered with the IdP's log at start-up.

Events name the kind (``code`` or ``password``) and the channel (``sms``, ``email``), never the address or the
number a link was sent to, nor any answer typed. The FranceConnect route names the channel ``franceconnect``;
the identity the provider returned is never recorded (the federation's own events carry a keyed reference).
"""

from __future__ import annotations

EVENT_TYPES: dict[str, str] = {
    "reassort.requested": "A voter asked for a réassort link (kind, channel); the answers are checked next (channel "
    "franceconnect: the voter leaves for the provider).",
    "reassort.rejected": "A réassort request refused before any secret was checked (malformed field); not counted.",
    "reassort.failed": "Wrong question défi, secret answer or NUMEN/NIR, or no such voter: one uniform answer, "
    "counted towards the lockout.",
    "reassort.locked": "A voter's réassort (scope voter) or a client address (scope address) was locked after "
    "repeated failures.",
    "reassort.throttled": "A réassort request refused because the voter or the client address is locked.",
    "reassort.refused": "A réassort refused unchecked: outside the election window, or too many links sent "
    "within the hour.",
    "reassort.link_sent": "A single-use réassort link was queued for delivery (kind, channel, link id, validity).",
    "reassort.link_granted": "A single-use réassort link was granted in the browser after an identity check "
    "(FranceConnect): no message sent.",
    "reassort.franceconnect_refused": "The FranceConnect identity designated another voter than the one signed in "
    "(matched_subject): no link; counted towards the lockout like a wrong "
    "answer.",
    "reassort.link_opened": "A live réassort link was opened (GET); nothing changed.",
    "reassort.link_refused": "A réassort link was used after expiry or a second time, or outside the election window.",
    "reassort.code_generated": "A vote code was generated from a réassort link; the previous code is void.",
    "reassort.password_changed": "The election password was changed from a réassort link; every session of the "
    "voter ended.",
}
