"""The audit vocabulary: every event type the log may hold, with what it means.

Plugins add their own types through :func:`register_event_types` (an extension point of the plugin API).
Recording an unknown type is a programming error and raises.
"""

from __future__ import annotations

EVENT_TYPES: dict[str, str] = {
    "login.identifier_accepted": "Identifier and CAPTCHA step passed (the identifier may or may not exist).",
    "login.identifier_rejected": "Identifier step refused (bad or expired CAPTCHA, malformed identifier).",
    "login.password_failed": "Wrong password, unknown identifier or account not activated at the password step.",
    "login.succeeded": "Password accepted: a new session is open.",
    "login.throttled": "A sign-in attempt refused because of throttling or lockout.",
    "login.locked": "An identifier or a client address was locked after repeated failures.",
    "logout": "The voter signed out.",
    "activation.requested": "An activation link was requested for an identifier (existing or not).",
    "activation.link_created": "An activation link was created for a voter not yet activated.",
    "activation.link_refused": "An activation link was used after expiry or a second time.",
    "activation.completed": "The voter set their election password and question défi.",
    "password.rehashed": "A stored hash was upgraded to the current argon2id parameters.",
    "message.queued": "A message was written to the delivery outbox.",
    "message.sent": "A message was handed to the mail or SMS operator.",
    "message.retry": "Delivery failed and will be retried.",
    "message.failed": "Delivery was abandoned after the last attempt.",
    "voters.imported": "Voters were imported from a file (administrative action).",
}


def register_event_types(types: dict[str, str]) -> None:
    """Add event types (plugins); a type already defined with another meaning is refused."""
    for name, description in types.items():
        existing = EVENT_TYPES.get(name)
        if existing is not None and existing != description:
            raise ValueError(f"audit event type {name!r} is already defined")
        EVENT_TYPES[name] = description
