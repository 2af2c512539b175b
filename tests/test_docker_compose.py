"""The production deployment files: docker-compose.yml, the Dockerfile and the reverse proxy's configuration.

Docker is not available where the tests run, so these tests read the files and check what would break a
deployment silently: a misspelt IDP_* variable (ignored by the IdP, which would then run on a default), a missing
health check or start-up order, a proxy that forgets a replica, a secret written in clear.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from gunicorn.util import import_app

from idp import config as config_module

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
IDP_REPLICAS = ["idp-1", "idp-2"]
IDP_IMAGE_SERVICES = [*IDP_REPLICAS, "idp-migrate", "idp-worker"]
#: Services that run until stopped (everything but the one-shot migration).
LONG_RUNNING = [name for name in SERVICES if name != "idp-migrate"]
SECRET_WORDS = re.compile(r"SECRET|PASSWORD|TOKEN|KEY|PASSPHRASE", re.IGNORECASE)
#: Compose interpolation (``${NAME:-default}``), resolved here with the defaults, as compose would without .env.
_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}")


def environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment") or {}
    assert isinstance(env, dict), f"{service}: use the mapping form of environment"
    return {str(k): str(v) for k, v in env.items()}


def interpolate(value: str) -> str:
    return _INTERPOLATION.sub(lambda m: m.group(2) or "", value)


def command(service: str) -> list[str]:
    cmd = SERVICES[service].get("command")
    assert isinstance(cmd, list), f"{service}: use the exec (list) form of command"
    return [str(part) for part in cmd]


def test_all_parts_of_the_deployment_are_declared():
    assert set(SERVICES) >= {"postgres", "redis", "mailpit", "idp-migrate", *IDP_REPLICAS, "idp-worker", "portal",
                             "proxy"}


def test_images():
    assert SERVICES["postgres"]["image"].startswith("postgres:16")
    assert SERVICES["redis"]["image"].startswith("redis:7")
    assert SERVICES["mailpit"]["image"].startswith("axllent/mailpit:")
    assert SERVICES["proxy"]["image"].startswith("caddy:")
    images = {SERVICES[name]["image"] for name in [*IDP_IMAGE_SERVICES, "portal"]}
    assert len(images) == 1, "the IdP processes, the worker and the portal run one image"
    for name in IDP_IMAGE_SERVICES:
        assert SERVICES[name]["build"] == {"context": ".", "dockerfile": "Dockerfile"}


def test_every_idp_variable_is_a_setting_of_the_idp():
    for name in SERVICES:
        for variable in environment(name):
            if not variable.startswith(config_module.ENV_PREFIX):
                continue
            setting = variable.removeprefix(config_module.ENV_PREFIX).removesuffix("_FILE")
            assert setting in config_module.DEFAULTS, f"{name}: {variable} is not read by idp/config.py"


def test_idp_runs_in_production_on_postgresql_redis_and_smtp():
    for name in IDP_IMAGE_SERVICES:
        env = environment(name)
        assert env["IDP_ENV"] == "production"
        assert urlsplit(env["IDP_DATABASE_URL"]).scheme == "postgresql+psycopg"
        assert urlsplit(env["IDP_DATABASE_URL"]).hostname == "postgres"
        assert urlsplit(env["IDP_REDIS_URL"]).hostname == "redis"
        assert (env["IDP_MAIL_BACKEND"], env["IDP_SMTP_HOST"], env["IDP_SMTP_PORT"]) == ("smtp", "mailpit", "1025")
        assert env["IDP_TRUSTED_PROXIES"] == "1", "exactly one proxy (Caddy) in front of the IdP"
        assert interpolate(env["IDP_PUBLIC_URL"]).startswith("https://")
        assert env["IDP_SECRET_KEY_FILE"].startswith("/run/secrets/")
        assert env["IDP_HMAC_KEY_FILE"].startswith("/run/secrets/")


def test_idp_environment_passes_the_idp_validation(tmp_path):
    """The compose environment, with its secrets as files, is a configuration the IdP accepts in production."""
    environ = {k: interpolate(v) for k, v in environment("idp-1").items()}
    for variable, path in list(environ.items()):
        if path.startswith("/run/secrets/"):
            local = tmp_path / Path(path).name
            local.write_text("x" * 48 + "\n", encoding="utf-8")
            environ[variable] = str(local)
    settings = config_module.load(environ)
    config_module.validate(settings)
    assert settings["ENV"] == "production"
    assert settings["SMTP_PORT"] == 1025
    assert settings["TRUSTED_PROXIES"] == 1


def test_every_long_running_service_has_a_healthcheck():
    for name in LONG_RUNNING:
        check = SERVICES[name].get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
    assert SERVICES["postgres"]["healthcheck"]["test"][1] == "pg_isready"
    assert SERVICES["redis"]["healthcheck"]["test"][1:] == ["redis-cli", "ping"]
    for name in [*IDP_REPLICAS, "portal"]:
        test = " ".join(SERVICES[name]["healthcheck"]["test"])
        assert "python -c" in test and "urllib.request" in test and "/healthz" in test


def test_idp_processes_start_after_the_migration_succeeded():
    assert command("idp-migrate") == ["idp", "db", "upgrade"]
    assert SERVICES["idp-migrate"]["restart"] == "no"
    for name in [*IDP_REPLICAS, "idp-worker"]:
        depends = SERVICES[name]["depends_on"]
        assert depends["idp-migrate"] == {"condition": "service_completed_successfully"}, name
    assert SERVICES["idp-migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for name in IDP_REPLICAS:
        assert SERVICES["proxy"]["depends_on"][name] == {"condition": "service_healthy"}


def test_processes_run_the_expected_programs():
    for name in IDP_REPLICAS:
        assert command(name)[0] == "gunicorn" and command(name)[-1] == "idp:create_app()"
    assert command("idp-worker") == ["idp", "deliver"]
    assert command("portal")[0] == "gunicorn" and command("portal")[-1] == "relying_party:create_app()"
    assert all(variable.startswith("PORTAL_") or variable == "PGPASSFILE" for variable in environment("portal"))


def test_gunicorn_accepts_the_factory_syntax(monkeypatch, sqlite_template, tmp_path):
    """``idp:create_app()`` is what gunicorn loads; the pinned gunicorn must call the factory with no argument."""
    database = sqlite_template.fresh(tmp_path).database_url
    for variable, value in {"IDP_ENV": "testing", "IDP_SECRET_KEY": "k" * 40, "IDP_HMAC_KEY": "h" * 40,
                            "IDP_DATABASE_URL": database}.items():
        monkeypatch.setenv(variable, value)
    application = import_app(command("idp-1")[-1])
    try:
        assert application.test_client().get("/healthz").status_code == 200
    finally:
        from idp.db import get_db

        get_db(application).dispose()


def test_proxy_balances_both_idp_replicas_with_active_health_checks():
    mounts = [str(volume) for volume in SERVICES["proxy"]["volumes"]]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in mounts
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
    upstreams = re.search(r"reverse_proxy\s+([^{\n]+)\{", caddyfile)
    assert upstreams is not None
    assert set(upstreams.group(1).split()) == {f"{name}:8000" for name in IDP_REPLICAS}
    assert "health_uri /healthz" in caddyfile
    assert "portal:8000" in caddyfile


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed (apt-get install caddy)")
def test_caddyfile_is_valid(tmp_path):
    import subprocess

    result = subprocess.run(
        ["caddy", "validate", "--adapter", "caddyfile", "--config", str(ROOT / "deploy" / "Caddyfile")],
        capture_output=True, text=True, timeout=60, check=False,
        # HOME: caddy may prepare its certificate storage while validating; keep it out of the tree.
        env={"SITE_IDP": "idp.localhost", "SITE_PORTAL": "portal.localhost", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_dockerfile_installs_the_project():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    instructions = [line.strip() for line in dockerfile.splitlines() if line.strip() and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    assert any(re.match(r"RUN pip install \.(\s|$)", line) for line in instructions)
    assert any(line.startswith("USER ") and not line.startswith("USER root") for line in instructions)
    assert '"idp:create_app()"' in dockerfile
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {"secrets", ".env", ".venv", ".git"} <= set(ignored), "secrets must never enter the build context"


def test_no_secret_value_is_inline():
    for name, service in SERVICES.items():
        for variable, value in environment(name).items():
            if variable.endswith("_FILE") or variable == "PGPASSFILE":
                assert value.startswith("/run/secrets/"), f"{name}: {variable} must name a docker secret"
                assert Path(value).name in service.get("secrets", []), f"{name}: {value} is not mounted"
            else:
                assert not SECRET_WORDS.search(variable), f"{name}: {variable} holds a secret in clear"
            if "://" in value:
                assert urlsplit(interpolate(value)).password is None, f"{name}: password in {variable}"
    for secret, definition in COMPOSE["secrets"].items():
        assert set(definition) == {"file"} and definition["file"] == f"./secrets/{secret}"
        assert not (ROOT / "secrets" / secret).exists() or not _tracked_by_git(f"secrets/{secret}")


def _tracked_by_git(path: str) -> bool:
    import subprocess

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return False
    result = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--error-unmatch", path],
                            capture_output=True, check=False)
    return result.returncode == 0
