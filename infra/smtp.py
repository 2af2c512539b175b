"""An SMTP session whose whole exchange has one deadline, for every app that sends mail (the IdP's delivery worker,
the portal's mail worker).

:mod:`smtplib`'s ``timeout`` bounds each read and write, not the exchange: a relay that answers every command just
before the timeout could hold a worker for minutes, past its lease on the message, and another worker would then
send the message a second time. Here every read and write gets only the time left before the deadline.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Buffer  # typing only: collections.abc.Buffer arrives with Python 3.12


def bounded_smtp(host: str, port: int, *, timeout: float, tls_context: ssl.SSLContext | None = None) -> smtplib.SMTP:
    """A connected session (TLS from the start when ``tls_context`` is given) that ends by ``timeout`` seconds from
    now, whatever it does; past it, reads and writes raise :class:`TimeoutError`."""
    deadline = time.monotonic() + timeout
    if tls_context is not None:
        return _BoundedSMTPSSL(host, port, deadline=deadline, context=tls_context)
    return _BoundedSMTP(host, port, deadline=deadline)


def _arm(smtp: smtplib.SMTP, deadline: float) -> None:
    """Give the session's socket only the time left before ``deadline`` (monotonic)."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the SMTP exchange took longer than its timeout")
    if smtp.sock is not None:
        smtp.sock.settimeout(left)


class _BoundedSMTP(smtplib.SMTP):
    """An SMTP session whose every read and write ends by ``deadline``."""

    def __init__(self, host: str, port: int, *, deadline: float, **kwargs: Any) -> None:
        self.deadline = deadline
        super().__init__(host, port, timeout=max(0.1, deadline - time.monotonic()), **kwargs)

    def send(self, s: Buffer | str) -> None:
        _arm(self, self.deadline)
        super().send(s)

    def getreply(self) -> tuple[int, bytes]:
        _arm(self, self.deadline)
        return super().getreply()


class _BoundedSMTPSSL(_BoundedSMTP, smtplib.SMTP_SSL):
    """:class:`_BoundedSMTP` over TLS from the start (``context`` required: the default one checks nothing)."""
