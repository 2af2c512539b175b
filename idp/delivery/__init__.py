"""Delivery of e-mail and SMS through a durable outbox, sent outside the request by ``idp deliver``."""

from idp.delivery.outbox import enqueue
from idp.delivery.payload import Message
from idp.delivery.sealer import outbox_sealer

__all__ = ["Message", "enqueue", "outbox_sealer"]
