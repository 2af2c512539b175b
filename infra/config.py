"""Configuration loading shared by the apps: defaults, then environment variables, then the caller's mapping.

Every app layers its settings the same way (the Flask tutorial's ``create_app(test_config)`` pattern): the app's
``DEFAULTS``, then ``<PREFIX><NAME>`` environment variables (or ``<PREFIX><NAME>_FILE`` naming a file that holds the
value, for secrets handed over as docker secrets), then the mapping a caller passes to ``create_app`` (tests). An
environment string is converted to the type of its default. A bad value raises :class:`ConfigError` whose message
names the variable as the operator writes it (``IDP_LOCKOUT_THRESHOLD must be an integer, got 'five'``); the apps'
commands print that one line instead of a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_BOOL_TRUE = frozenset({"1", "true", "yes", "on"})
_BOOL_FALSE = frozenset({"0", "false", "no", "off", ""})

ENVIRONMENTS = ("production", "development", "testing")


class ConfigError(ValueError):
    """A setting an app cannot start with; the message is one line naming the variable."""


class Settings:
    """The settings of one app: its environment prefix and defaults, and the checks every app shares.

    ``caller_only`` holds settings only a caller of ``create_app`` can give (not strings: a clock for tests); they
    are defaults too but never read from the environment.
    """

    def __init__(self, prefix: str, defaults: Mapping[str, Any], caller_only: Mapping[str, Any] | None = None) -> None:
        self.prefix = prefix
        self.defaults = dict(defaults)
        self.caller_only = dict(caller_only or {})

    def name(self, setting: str) -> str:
        """The environment variable of ``setting`` (``LOCKOUT_THRESHOLD`` → ``IDP_LOCKOUT_THRESHOLD``)."""
        return self.prefix + setting

    def coerce(self, setting: str, raw: str, default: Any) -> Any:
        """Convert an environment string to the type of the default (bool, int, float, else the string)."""
        if isinstance(default, bool):
            lowered = raw.strip().lower()
            if lowered in _BOOL_TRUE:
                return True
            if lowered in _BOOL_FALSE:
                return False
            raise ConfigError(f"{self.name(setting)} must be a boolean, got {raw!r}")
        if isinstance(default, int):
            try:
                return int(raw)
            except ValueError:
                raise ConfigError(f"{self.name(setting)} must be an integer, got {raw!r}") from None
        if isinstance(default, float):
            try:
                return float(raw)
            except ValueError:
                raise ConfigError(f"{self.name(setting)} must be a number, got {raw!r}") from None
        return raw

    def load(
        self, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Defaults, then ``<PREFIX>*`` (or ``<PREFIX>*_FILE``) variables, then ``overrides``."""
        env = os.environ if environ is None else environ
        config: dict[str, Any] = {**self.defaults, **self.caller_only}
        for setting, default in self.defaults.items():
            file_var = self.name(setting) + "_FILE"
            if file_var in env:
                try:
                    raw = Path(env[file_var]).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ConfigError(f"{file_var} names a file that cannot be read ({exc.strerror})") from None
                config[setting] = self.coerce(setting, raw, default)
            elif self.name(setting) in env:
                config[setting] = self.coerce(setting, env[self.name(setting)], default)
        if overrides:
            config.update(overrides)
        return config

    # --- checks shared by the apps' ``validate`` -------------------------------------------------------------------

    def error(self, setting: str, problem: str) -> ConfigError:
        """``<PREFIX><SETTING> <problem>``: the one message style of every app."""
        return ConfigError(f"{self.name(setting)} {problem}")

    def check_env(self, config: Mapping[str, Any]) -> str:
        """The ``ENV`` setting, one of production, development or testing."""
        env = config["ENV"]
        if env not in ENVIRONMENTS:
            raise self.error("ENV", f"must be production, development or testing, got {env!r}")
        return str(env)

    def require(self, config: Mapping[str, Any], *settings: str) -> None:
        """Each of ``settings`` must be set (non-empty)."""
        for setting in settings:
            if not config.get(setting):
                raise self.error(setting, "is required")

    def require_secret(self, config: Mapping[str, Any], setting: str, *, production: bool) -> None:
        """A secret must be set (in the environment or its ``_FILE``), and at least 32 characters in production."""
        value = config.get(setting)
        if not value:
            raise self.error(setting, f"is required (set it in the environment or in {self.name(setting)}_FILE)")
        if production and len(str(value)) < 32:
            raise self.error(setting, "must be at least 32 characters in production")

    def check_http_url(self, config: Mapping[str, Any], setting: str, *, https: bool = False) -> None:
        """An absolute http(s) URL; ``https`` (production) requires the https scheme."""
        parts = urlsplit(str(config[setting]))
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise self.error(setting, f"must be an absolute http(s) URL, got {config[setting]!r}")
        if https and parts.scheme != "https":
            raise self.error(setting, "must use https in production")

    def check_at_least(self, config: Mapping[str, Any], settings: Iterable[str], minimum: int = 1) -> None:
        """Each of ``settings`` must be an integer of at least ``minimum`` (1: a positive integer)."""
        for setting in settings:
            try:
                value = int(config[setting])
            except (TypeError, ValueError):
                value = None
            if value is None or value < minimum:
                wanted = "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"
                raise self.error(setting, f"must be {wanted}, got {config[setting]!r}")

    def check_redis(self, config: Mapping[str, Any]) -> None:
        """The ``REDIS_*`` settings (URL, Sentinels, timeout, replicas to wait for) can be used."""
        from infra.store.redis import RedisSettings

        try:
            RedisSettings.from_config(config)
        except ValueError as exc:
            raise ConfigError(f"{self.prefix}{exc}") from None
