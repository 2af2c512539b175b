"""What can be re-issued, and the channels a link travels by."""

from __future__ import annotations

import enum


class Kind(enum.Enum):
    """A vote code or an election password; each has its own single-use links (``OneTimeLink.purpose``)."""

    CODE = "code"
    PASSWORD = "password"  # noqa: S105 - a label, not a secret

    @property
    def purpose(self) -> str:
        return f"reassort_{self.value}"


#: Delivery channels (names of :mod:`idp.delivery`) and the tag that starts the token of a link sent by each.
#: The tag is covered by the token's stored hash, so once a link is found it tells the channel for the audit
#: log without the channel (let alone the address) being stored anywhere. "F" is kept for FranceConnect.
CHANNEL_TAGS = {"sms": "S", "email": "E", "franceconnect": "F"}


def channel_of(token: str) -> str:
    """The channel a link was sent by, from the tag of its token (call once the link is known to be genuine)."""
    for channel, tag in CHANNEL_TAGS.items():
        if token.startswith(tag):
            return channel
    return "unknown"
