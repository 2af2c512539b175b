"""Messages the delivery worker writes itself, from a request the web process queued.

Some answers must cost a web request exactly the same work whatever the account behind it, or their timing tells
what the page hides. « Recevoir mon lien d'activation » is one: an unknown identifier got nothing (5.4 ms), an
account not yet activated got a link created and an e-mail queued (10.6 ms), an activated one an e-mail (7.2 ms),
behind the same page. So the request only queues *what was asked* (one outbox row, the same for everyone) and the
worker decides what to send, out of the request's sight: a **composer**, registered for the request's purpose,
turns it into the real message (or into nothing: status ``discarded``, audit ``message.discarded``). It runs in the
worker's transaction that also rewrites the row with the composed message and its final purpose, only while the
worker still holds the lease: a retry sends what was composed, and never composes (or creates a link) twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from sqlalchemy.orm import Session

from idp.delivery.payload import Message

EXTENSION = "idp.delivery.composers"


@dataclass(frozen=True)
class Composed:
    message: Message
    #: The final purpose (audit vocabulary), e.g. "activation".
    purpose: str


#: ``composer(session, request)``: the message to send for ``request``, or None when there is nothing to send. It
#: may write (a link, its audit event) in ``session``, the worker's transaction; it must not commit.
Composer = Callable[[Session, Message], Composed | None]


def register(app: Flask, purpose: str, composer: Composer) -> None:
    """Have the worker compose the messages queued with ``purpose`` (once per app, at start-up)."""
    composers: dict[str, Composer] = app.extensions.setdefault(EXTENSION, {})
    if purpose in composers:
        raise ValueError(f"a composer is already registered for {purpose!r}")
    composers[purpose] = composer


def composer_for(app: Flask, purpose: str) -> Composer | None:
    composers: dict[str, Composer] = app.extensions.get(EXTENSION, {})
    return composers.get(purpose)
