"""Delivery of e-mail and SMS through a durable outbox, sent outside the request by ``idp deliver``."""

from idp.delivery.outbox import enqueue
from idp.delivery.payload import Message

__all__ = ["Message", "enqueue"]
