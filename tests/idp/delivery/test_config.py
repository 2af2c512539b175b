"""Delivery settings: refused when they cannot work, so a worker never starts half-configured."""

from __future__ import annotations

from typing import Any

import pytest

from idp import config

BASE = {"ENV": "testing", "SECRET_KEY": "k" * 40, "HMAC_KEY": "h" * 40, "CAPTCHA_BACKEND": "fixed:1"}


def settings(**overrides: Any) -> dict[str, Any]:
    return config.load({}, {**BASE, **overrides})


def test_defaults_are_valid():
    config.validate(settings())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"MAIL_BACKEND": "sendmail"}, "IDP_MAIL_BACKEND"),
        ({"SMS_BACKEND": "smtp"}, "IDP_SMS_BACKEND"),
        ({"MAIL_BACKEND": "smtp", "SMTP_SSL": True, "SMTP_STARTTLS": True}, "exclusive"),
        ({"SMS_BACKEND": "http", "SMS_ACCOUNT_SID": "AC1", "SMS_AUTH_TOKEN": "t"}, "IDP_SMS_GATEWAY_URL"),
        ({"DELIVERY_LEASE": 0}, "IDP_DELIVERY_LEASE"),
        ({"DELIVERY_MAX_ATTEMPTS": 0}, "IDP_DELIVERY_MAX_ATTEMPTS"),
    ],
)
def test_unworkable_delivery_settings_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        config.validate(settings(**overrides))


def test_delivery_settings_come_from_the_environment():
    loaded = config.load(
        {"IDP_MAIL_BACKEND": "smtp", "IDP_SMTP_STARTTLS": "true", "IDP_DELIVERY_RETRY_MAX": "600"}, BASE
    )
    config.validate(loaded)
    assert (loaded["MAIL_BACKEND"], loaded["SMTP_STARTTLS"], loaded["DELIVERY_RETRY_MAX"]) == ("smtp", True, 600)
