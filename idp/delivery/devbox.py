"""The development outbox: "delivers" a message by keeping it in a table that a development page shows.

It lets the demo and a developer follow an activation or réassort link without any mail or SMS server, while
the real queue, worker, retries and audit events run exactly as in production.
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.db import Database
from idp.delivery.payload import Message
from idp.models import DevMessage


@dataclass(frozen=True)
class DevOutboxSender:
    database: Database

    def send(self, message: Message) -> None:
        # A transaction of its own: the worker calls senders outside any transaction of the outbox.
        with self.database.transaction() as session:
            session.add(
                DevMessage(
                    channel=message.channel,
                    recipient=message.recipient[:254],
                    subject=message.subject[:300],
                    body=message.body,
                )
            )
