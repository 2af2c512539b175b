"""The one interface of every delivery channel (:mod:`idp.delivery.backends` chooses an implementation).

A sender hands one message to an operator (SMTP relay, SMS gateway, development outbox) and either returns or
raises :class:`DeliveryError`, saying whether trying again later could help. The worker owns retries, leases and
the audit trail, so a sender stays a thin client that knows nothing about the outbox table.
"""

from __future__ import annotations

from typing import Protocol

from idp.delivery.payload import Message

#: Ends the reason of a failure after which the operator may have taken the message all the same (the message was
#: handed over, then no answer came in time): the next successful attempt may deliver a second copy.
UNCERTAIN = " (may have been sent)"


class DeliveryError(Exception):
    """A message could not be handed over.

    ``permanent`` tells the worker not to retry (the operator refused this message for good: unknown mailbox,
    invalid number); otherwise the failure is temporary (network, busy server, rate limit, misconfiguration an
    operator can fix) and the message is retried with backoff. ``uncertain``: the message had been handed over when
    the exchange failed, so the operator may have taken it (the reason then ends with :data:`UNCERTAIN`). ``reason``
    is short and holds no recipient, because it is stored with the message and written to the audit log.
    """

    def __init__(self, reason: str, *, permanent: bool, uncertain: bool = False) -> None:
        reason = reason[: 200 - len(UNCERTAIN)] + (UNCERTAIN if uncertain else "")
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.uncertain = uncertain


class ConfigurationError(RuntimeError):
    """The delivery settings cannot work (raised when the worker starts, not per message)."""


class Sender(Protocol):
    def send(self, message: Message) -> None:
        """Hand ``message`` over, or raise :class:`DeliveryError`."""
