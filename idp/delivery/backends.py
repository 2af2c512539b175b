"""The choice of a sender for each channel from configuration (``IDP_MAIL_BACKEND``, ``IDP_SMS_BACKEND``)."""

from __future__ import annotations

from flask import Flask

from idp.db import get_db
from idp.delivery.devbox import DevOutboxSender
from idp.delivery.senders import ConfigurationError, Sender
from idp.delivery.sms import TwilioSmsSender
from idp.delivery.smtp import SmtpSender

#: Backend names per channel, as in ``IDP_MAIL_BACKEND`` and ``IDP_SMS_BACKEND``.
BACKEND_SETTING = {"email": "MAIL_BACKEND", "sms": "SMS_BACKEND"}


def sender_for(app: Flask, channel: str) -> Sender:
    """The sender configured for ``channel`` in ``app``.

    The development outbox is refused in production: messages would land in a table no page shows, with the
    addresses in clear.
    """
    cfg = app.config
    if channel not in BACKEND_SETTING:
        raise ConfigurationError(f"unknown delivery channel {channel!r}")
    setting = BACKEND_SETTING[channel]
    backend = cfg[setting]
    if backend == "outbox":
        if cfg["ENV"] == "production":
            raise ConfigurationError(
                f"IDP_{setting}=outbox is for development only: configure a real backend in production"
            )
        return DevOutboxSender(get_db(app))
    if channel == "email" and backend == "smtp":
        return SmtpSender.from_config(cfg)
    if channel == "sms" and backend == "http":
        return TwilioSmsSender.from_config(cfg)
    raise ConfigurationError(f"IDP_{setting}={backend!r} is not a backend of the {channel} channel")
