"""Configuration layers (defaults → environment → ``*_FILE`` → caller's mapping) and the one message style."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.config import ConfigError, Settings

DEFAULTS = {
    "ENV": "production",
    "SECRET_KEY": None,
    "RETRIES": 3,
    "RATIO": 0.5,
    "STRICT": False,
    "NAME": "défaut",
    "PUBLIC_URL": "http://localhost:5000",
}
SETTINGS = Settings("APP_", DEFAULTS, caller_only={"CLOCK": len})


def test_layers_apply_in_order(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("  from-a-file-0123456789abcdef0123456789  \n", encoding="utf-8")
    loaded = SETTINGS.load(
        {
            "APP_RETRIES": "7",
            "APP_RATIO": "0.25",
            "APP_STRICT": "yes",
            "APP_NAME": "from-env",
            "APP_SECRET_KEY_FILE": str(secret),
            "APP_SECRET_KEY": "ignored: the file wins",
            "OTHER_NAME": "another app's",
        },
        {"NAME": "from-the-caller"},
    )
    assert loaded["RETRIES"] == 7 and loaded["RATIO"] == 0.25 and loaded["STRICT"] is True
    assert loaded["SECRET_KEY"] == "from-a-file-0123456789abcdef0123456789", "a file's value is stripped"
    assert loaded["NAME"] == "from-the-caller"
    assert loaded["CLOCK"] is len, "caller-only settings are defaults too"
    assert SETTINGS.load({"APP_CLOCK": "time"})["CLOCK"] is len, "never read from the environment"
    assert SETTINGS.load({})["RETRIES"] == 3


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"APP_RETRIES": "trois"}, "APP_RETRIES must be an integer, got 'trois'"),
        ({"APP_RATIO": "moitié"}, "APP_RATIO must be a number, got 'moitié'"),
        ({"APP_STRICT": "peut-être"}, "APP_STRICT must be a boolean, got 'peut-être'"),
        ({"APP_SECRET_KEY_FILE": "/nonexistent/secret"}, "APP_SECRET_KEY_FILE names a file that cannot be read"),
    ],
)
def test_bad_environment_values_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        SETTINGS.load(environ)
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value), "one line, for the operator"


@pytest.mark.parametrize(
    ("overrides", "check", "message"),
    [
        ({"ENV": "staging"}, lambda c: SETTINGS.check_env(c), "APP_ENV must be production, development or testing"),
        ({}, lambda c: SETTINGS.require_secret(c, "SECRET_KEY", production=True), "APP_SECRET_KEY is required"),
        (
            {"SECRET_KEY": "court"},
            lambda c: SETTINGS.require_secret(c, "SECRET_KEY", production=True),
            "APP_SECRET_KEY must be at least 32 characters in production",
        ),
        ({"PUBLIC_URL": "localhost:5000"}, lambda c: SETTINGS.check_http_url(c, "PUBLIC_URL"), "absolute http(s)"),
        (
            {},
            lambda c: SETTINGS.check_http_url(c, "PUBLIC_URL", https=True),
            "APP_PUBLIC_URL must use https in production",
        ),
        ({"RETRIES": 0}, lambda c: SETTINGS.check_at_least(c, ["RETRIES"]), "APP_RETRIES must be a positive integer"),
        (
            {"RETRIES": -1},
            lambda c: SETTINGS.check_at_least(c, ["RETRIES"], minimum=0),
            "APP_RETRIES must be an integer of at least 0",
        ),
        ({"NAME": ""}, lambda c: SETTINGS.require(c, "NAME"), "APP_NAME is required"),
    ],
)
def test_shared_checks_speak_one_style(overrides, check, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        check(SETTINGS.load({}, overrides))


def test_a_short_secret_is_accepted_outside_production() -> None:
    SETTINGS.require_secret({"SECRET_KEY": "court"}, "SECRET_KEY", production=False)
