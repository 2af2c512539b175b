"""The production deployment files: docker-compose.yml, the Dockerfile, deploy/ (Caddyfile, scripts, env example).

Docker is not available where the tests run, so these tests read the files and check what would break a
deployment silently: a misspelt IDP_*, PORTAL_* or FCDEV_* variable (ignored by the application, which would then
run on a default), a missing health check or start-up order, a command the CLIs do not have, a proxy that forgets
a replica, a secret written in clear. Where a part can run here, it runs: the three applications are built from the
compose environments (production, secrets from deploy/make-secrets.sh), the client-registration job registers the
portal at a real IdP, and the trust-bundle job picks up the root of the CA that Caddy itself generates.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml
from click.testing import CliRunner
from flask import Flask
from granian._internal import load_target

from fc_dev_provider import config as fcdev_config
from idp import config as idp_config
from infra import web_server
from operator_console import config as console_config
from relying_party import config as portal_config
from tests.backends import SQLiteTemplate

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
IMAGE = "portail-elections:0.1.0"
IDP_REPLICAS = ["idp-1", "idp-2"]
PORTAL_REPLICAS = ["portal-1", "portal-2"]
#: Services of the project's image, by the application whose settings they read.
IDP_SERVICES = [
    "idp-migrate",
    *IDP_REPLICAS,
    "idp-worker",
    "idp-logouts",
    "idp-register-portal",
    "idp-register-console",
    "idp-audit",
]
PORTAL_SERVICES = ["portal-migrate", *PORTAL_REPLICAS, "portal-worker", "portal-mixer", "portal-audit"]
FC_SERVICE = "fc-dev-provider"
CONSOLE_SERVICE = "operator-console"
#: Jobs that run once and exit (restart: "no"); every other service runs until stopped.
ONE_SHOT = [name for name, service in SERVICES.items() if service.get("restart") == "no"]
LONG_RUNNING = [name for name in SERVICES if name not in ONE_SHOT]
#: Variables outside the applications' prefixes, each for a reason given in docker-compose.yml.
OTHER_VARIABLES = {"PGPASSFILE", "REQUESTS_CA_BUNDLE", "AUTHLIB_INSECURE_TRANSPORT", "PROMETHEUS_MULTIPROC_DIR"}
PREFIXES = {
    idp_config.ENV_PREFIX: idp_config.DEFAULTS,
    portal_config.ENV_PREFIX: portal_config.DEFAULTS,
    fcdev_config.ENV_PREFIX: fcdev_config.DEFAULTS,
    console_config.ENV_PREFIX: console_config.DEFAULTS,
}
SECRET_WORDS = re.compile(r"SECRET|PASSWORD|TOKEN|KEY|PASSPHRASE", re.IGNORECASE)
#: Where the portal's client secret travels (volume portal-client), the one secret that is not a docker secret.
PORTAL_CLIENT_DIR = "/var/lib/portail-elections/portal-client"
#: Where the operators' console's client secret travels (volume console-client), written by idp-register-console.
CONSOLE_CLIENT_DIR = "/var/lib/portail-elections/console-client"
#: Compose interpolation: ``${NAME}``, ``${NAME:-default}``, ``${NAME-default}``, ``${NAME:?error}``.
_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}")


def _dotenv(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


#: The operator's .env, as deploy/env.example proposes it.
DOTENV = _dotenv(DEPLOY / "env.example")


def interpolate(value: str, dotenv: Mapping[str, str] = DOTENV) -> str:
    """Resolve compose interpolation as ``docker compose`` would with ``dotenv`` as .env."""

    def resolve(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2) or "", match.group(3) or ""
        value = dotenv.get(name)
        if operator.endswith("?") and not value:
            raise AssertionError(f"compose would refuse to start without {name}: {argument}")
        return value if value else (argument if operator.endswith("-") else "")

    return _INTERPOLATION.sub(resolve, value)


def environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment") or {}
    assert isinstance(env, dict), f"{service}: use the mapping form of environment"
    return {str(k): str(v) for k, v in env.items()}


def command(service: str) -> list[str]:
    cmd = SERVICES[service].get("command")
    assert isinstance(cmd, list), f"{service}: use the exec (list) form of command"
    return [str(part) for part in cmd]


def volumes(service: str) -> dict[str, str]:
    """Container path → mount (``source:target[:ro]``)."""
    return {str(v).split(":")[1]: str(v) for v in SERVICES[service].get("volumes", [])}


def depends(service: str) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in (SERVICES[service].get("depends_on") or {}).items()}


def local_environment(service: str, secrets_dir: Path, **overrides: str | None) -> dict[str, str]:
    """The service's environment as its container sees it, with the docker secrets read from ``secrets_dir``."""
    env = {name: interpolate(value) for name, value in environment(service).items()}
    for name, value in list(env.items()):
        if value.startswith("/run/secrets/"):
            env[name] = str(secrets_dir / Path(value).name)
    for name, override in overrides.items():
        if override is None:
            env.pop(name, None)
        else:
            env[name] = override
    return env


def cli_invocations(service: str) -> list[list[str]]:
    """The ``idp …`` / ``portal …`` commands a service runs, also inside ``sh -c`` and deploy/ scripts."""
    cmd = command(service)
    if cmd[:2] == ["sh", "-c"]:
        script = interpolate(cmd[2])
    elif cmd[0] == "sh":
        mounted = {target: source for target, source in (m.split(":")[1::-1] for m in volumes(service).values())}
        script = (ROOT / mounted[cmd[1]]).read_text(encoding="utf-8")
        script = re.sub(r"\\\n\s*", " ", script)  # continuation lines
    else:
        return [cmd]
    script = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    found = []
    # At a command position only (not inside an echo'd message): line start, $(, do, &&, ||, ;.
    for match in re.finditer(
        r"(?:^[ \t]*|\$\(|\bdo[ \t]+|&&[ \t]*|\|\|[ \t]*|;[ \t]*)((?:idp|portal)[ \t][^;&|)\n]*)", script, re.MULTILINE
    ):
        found.append([word for word in shlex.split(match.group(1)) if not re.match(r"^\d*>", word)])
    return found


@pytest.fixture(scope="module")
def generated_secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The secrets directory an operator gets from deploy/make-secrets.sh (openssl needed)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    workdir = tmp_path_factory.mktemp("deployment")
    run_script("make-secrets.sh", cwd=workdir, env={"ELECTIONS_IDP_DOMAIN": DOTENV["ELECTIONS_IDP_DOMAIN"]})
    return workdir / "secrets"


def run_script(name: str, *, cwd: Path, env: Mapping[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a deploy/ script under sh, as its container would, with only ``env`` (and the venv's ``idp`` on PATH)."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    result = subprocess.run(
        ["sh", str(DEPLOY / name)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": path, "LANG": "C.UTF-8", **env},
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def dispose(app: Flask) -> None:
    for extension in ("idp.db", "portal.db"):
        database = app.extensions.get(extension)
        if database is not None:
            database.dispose()


# --- Shape ---------------------------------------------------------------------------------------------------------


def test_all_parts_of_the_deployment_are_declared() -> None:
    assert set(SERVICES) >= {
        "postgres",
        "redis",
        "mailpit",
        *IDP_SERVICES,
        *PORTAL_SERVICES,
        FC_SERVICE,
        CONSOLE_SERVICE,
        "proxy",
        "trust-bundle",
    }
    assert "profiles" not in SERVICES["portal-1"], "the portal is part of the deployment, not an option"
    assert set(ONE_SHOT) == {
        "idp-migrate",
        "idp-register-portal",
        "idp-register-console",
        "portal-migrate",
        "trust-bundle",
    }


def test_images() -> None:
    assert SERVICES["postgres"]["image"].startswith("postgres:16")
    assert SERVICES["redis"]["image"].startswith("redis:7")
    assert SERVICES["mailpit"]["image"].startswith("axllent/mailpit:")
    assert SERVICES["proxy"]["image"].startswith("caddy:")
    assert SERVICES["prometheus"]["image"].startswith("prom/prometheus:v")
    assert SERVICES["trust-bundle"]["image"] == SERVICES["proxy"]["image"]
    for name in [*IDP_SERVICES, *PORTAL_SERVICES, FC_SERVICE, CONSOLE_SERVICE]:
        assert SERVICES[name]["image"] == IMAGE, f"{name}: every Python process runs the one image"
    # compose builds the image once and does not try to pull it for the services that only name it.
    builders = [name for name, service in SERVICES.items() if "build" in service]
    assert builders and all(
        SERVICES[name]["build"] == {"context": ".", "dockerfile": "Dockerfile"} for name in builders
    )


def test_every_variable_is_a_setting_of_the_application_that_runs() -> None:
    owner = {
        **dict.fromkeys(IDP_SERVICES, "IDP_"),
        **dict.fromkeys(PORTAL_SERVICES, "PORTAL_"),
        FC_SERVICE: "FCDEV_",
        CONSOLE_SERVICE: "OPERATOR_CONSOLE_",
    }
    for name in [*IDP_SERVICES, *PORTAL_SERVICES, FC_SERVICE, CONSOLE_SERVICE]:
        for variable in environment(name):
            if variable in OTHER_VARIABLES:
                continue
            prefix = next((p for p in PREFIXES if variable.startswith(p)), None)
            assert prefix is not None, f"{name}: {variable} is read by no application"
            # The registration job names the portal's settings (the same values) to register it.
            assert prefix == owner[name] or (name, prefix) in {
                ("idp-register-portal", "PORTAL_"),
                ("idp-register-console", "OPERATOR_CONSOLE_"),
            }, (name, variable)
            setting = variable.removeprefix(prefix)
            defaults = PREFIXES[prefix]
            assert setting in defaults or setting.removesuffix("_FILE") in defaults, (
                f"{name}: {variable} is not a setting of {prefix.lower()}* (see its config.py)"
            )


def test_env_example_gives_every_interpolated_variable() -> None:
    used = {match.group(1) for match in _INTERPOLATION.finditer(COMPOSE_TEXT)}
    assert used <= set(DOTENV), f"add to deploy/env.example: {sorted(used - set(DOTENV))}"
    required = {m.group(1) for m in _INTERPOLATION.finditer(COMPOSE_TEXT) if (m.group(2) or "").endswith("?")}
    assert required == {"ELECTIONS_SEALED_AT", "ELECTIONS_CLOSES_AT"}
    with pytest.raises(AssertionError, match="ELECTIONS_SEALED_AT"):
        interpolate(environment("idp-1")["IDP_ELECTION_SEALED_AT"], dotenv={})


def _compose_cli() -> list[str] | None:
    """``docker compose`` (v2), else the standalone ``docker-compose`` (Debian's 1.29 validates against the compose
    specification of its time: it predates the top-level ``name``). Neither needs a Docker engine for ``config``."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.skipif(_compose_cli() is None, reason="no compose CLI (apt-get install docker-compose)")
def test_compose_accepts_the_file_and_requires_the_election_window(tmp_path: Path) -> None:
    cli = _compose_cli()
    assert cli is not None
    compose_file = tmp_path / "docker-compose.yml"
    text = COMPOSE_TEXT if cli == ["docker", "compose"] else re.sub(r"(?m)^name: .*\n", "", COMPOSE_TEXT)
    compose_file.write_text(text, encoding="utf-8")
    empty = tmp_path / "empty.env"
    empty.write_text("", encoding="utf-8")

    def config(env_file: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli, "--project-directory", str(ROOT), "--env-file", str(env_file), "-f", str(compose_file), "config"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
            env={"PATH": os.environ.get("PATH", os.defpath), "HOME": str(tmp_path)},
        )

    accepted = config(DEPLOY / "env.example")
    assert accepted.returncode == 0, accepted.stderr[-2000:]
    resolved = yaml.safe_load(accepted.stdout)
    assert (
        resolved["services"]["portal-1"]["environment"]["PORTAL_IDP_ISSUER"]
        == "https://" + DOTENV["ELECTIONS_IDP_DOMAIN"]
    )
    refused = config(empty)
    assert refused.returncode != 0 and "ELECTIONS_SEALED_AT" in refused.stderr


# --- Identity provider ---------------------------------------------------------------------------------------------


def test_idp_runs_in_production_with_its_plugin_and_federation() -> None:
    for name in IDP_SERVICES:
        env = {k: interpolate(v) for k, v in environment(name).items()}
        assert env["IDP_ENV"] == "production"
        assert urlsplit(env["IDP_DATABASE_URL"]).scheme == "postgresql+psycopg"
        assert urlsplit(env["IDP_DATABASE_URL"]).hostname == "postgres"
        assert urlsplit(env["IDP_REDIS_URL"]).hostname == "redis"
        assert (env["IDP_MAIL_BACKEND"], env["IDP_SMTP_HOST"], env["IDP_SMTP_PORT"]) == ("smtp", "mailpit", "1025")
        assert env["IDP_TRUSTED_PROXIES"] == "1", "exactly one proxy (Caddy) in front of the IdP"
        assert env["IDP_PUBLIC_URL"].startswith("https://")
        assert env["IDP_PLUGINS"] == "reassort"
        assert env["IDP_FC_ENABLED"] == "true"
        internal = urlsplit(env["IDP_FC_INTERNAL_BASE_URL"])
        fc_command = command(FC_SERVICE)
        assert internal.hostname == FC_SERVICE
        assert fc_command[fc_command.index("--host") + 1] == "0.0.0.0"
        assert fc_command[fc_command.index("--port") + 1] == str(internal.port)
        assert internal.path == urlsplit(env["IDP_FC_ISSUER"]).path
    fc = {k: interpolate(v) for k, v in environment(FC_SERVICE).items()}
    assert interpolate(environment("idp-1")["IDP_FC_ISSUER"]) == fc["FCDEV_ISSUER"], "the issuer the IdP checks"


def test_idp_starts_in_production_from_the_compose_environment(
    generated_secrets: Path, sqlite_template: SQLiteTemplate, tmp_path: Path
) -> None:
    """The whole idp-1 environment (plugin, federation, election window, secrets as files) gives an IdP that
    starts in production, serves /healthz, and whose issuer is the one the portal is configured with."""
    from idp import create_app

    env = local_environment(
        "idp-1", generated_secrets, IDP_REDIS_URL=None, IDP_DATABASE_URL=sqlite_template.fresh(tmp_path).database_url
    )
    app = create_app(environ=env)
    try:
        assert {"reassort", "federation"} <= set(app.blueprints)
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        discovery = client.get("/.well-known/openid-configuration").get_json()
        assert discovery["issuer"] == interpolate(environment("portal-1")["PORTAL_IDP_ISSUER"])
    finally:
        dispose(app)


def test_granian_loads_the_factory(
    monkeypatch: pytest.MonkeyPatch, sqlite_template: SQLiteTemplate, tmp_path: Path
) -> None:
    """``idp:create_app`` with ``--factory`` is what granian loads: the pinned granian calls it with no argument."""
    database = sqlite_template.fresh(tmp_path).database_url
    for variable, value in {
        "IDP_ENV": "testing",
        "IDP_SECRET_KEY": "k" * 40,
        "IDP_HMAC_KEY": "h" * 40,
        "IDP_DATABASE_URL": database,
    }.items():
        monkeypatch.setenv(variable, value)
    assert "--factory" in command("idp-1")
    application = load_target(command("idp-1")[-1], factory=True)
    try:
        assert application.test_client().get("/healthz").status_code == 200
    finally:
        from idp.db import get_db

        get_db(application).dispose()


# --- Start-up order and programs -----------------------------------------------------------------------------------


def test_jobs_run_before_what_needs_them() -> None:
    assert cli_invocations("idp-migrate") == [["idp", "db", "upgrade"], ["idp", "keys", "init"]]
    assert cli_invocations("portal-migrate") == [["portal", "db", "upgrade"]]
    for name in [*IDP_REPLICAS, "idp-worker", "idp-logouts", "idp-register-portal", "idp-register-console"]:
        assert depends(name)["idp-migrate"] == "service_completed_successfully", name
    assert depends("idp-migrate")["postgres"] == "service_healthy"
    assert depends("portal-migrate")["postgres"] == "service_healthy"
    for name in [*PORTAL_REPLICAS, "portal-worker", "portal-mixer"]:
        assert depends(name)["portal-migrate"] == "service_completed_successfully", name
    # The portal starts with its registration at the IdP done and the CA bundle to reach it.
    for name in PORTAL_REPLICAS:
        assert depends(name)["idp-register-portal"] == "service_completed_successfully"
        assert depends(name)["trust-bundle"] == "service_completed_successfully"
    assert depends("idp-logouts")["trust-bundle"] == "service_completed_successfully"
    assert depends("trust-bundle") == {"proxy": "service_healthy"}
    # The operators' console starts registered at the IdP, on the portal's current schema, with the CA bundle.
    for job in ("idp-register-console", "portal-migrate", "trust-bundle"):
        assert depends(CONSOLE_SERVICE)[job] == "service_completed_successfully", job
    for name in IDP_REPLICAS:
        assert depends("proxy")[name] == "service_healthy"


def test_dependencies_exist_and_have_no_cycle() -> None:
    for name in SERVICES:
        for target, condition in depends(name).items():
            assert target in SERVICES, f"{name} depends on unknown {target}"
            if condition == "service_completed_successfully":
                assert target in ONE_SHOT, f"{name} waits for {target} to exit, which it never does"
            elif condition == "service_healthy":
                assert target in LONG_RUNNING and SERVICES[target].get("healthcheck"), (name, target)
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"dependency cycle: {' -> '.join((*path, name))}"
        if name not in done:
            for target in depends(name):
                visit(target, (*path, name))
            done.add(name)

    for name in SERVICES:
        visit(name, ())


def _accepts(group: click.Group, invocation: list[str]) -> None:
    """The CLI knows this command path and these option names (``--help`` stops before running anything)."""
    result = CliRunner().invoke(group, [*invocation[1:], "--help"], catch_exceptions=False)
    assert result.exit_code == 0, f"{' '.join(invocation)}: {result.output[-500:]}"


def test_processes_run_commands_the_clis_have() -> None:
    from idp.cli import main as idp_main
    from relying_party.cli import main as portal_main

    for name in IDP_REPLICAS:
        assert command(name)[0] == "granian" and command(name)[-1] == "idp:create_app"
    for name in PORTAL_REPLICAS:
        assert command(name)[0] == "granian" and command(name)[-1] == "relying_party:create_app"
    assert command(FC_SERVICE)[0] == "granian" and command(FC_SERVICE)[-1] == "fc_dev_provider:create_app"
    assert command(CONSOLE_SERVICE)[0] == "granian" and command(CONSOLE_SERVICE)[-1] == "operator_console:create_app"
    console_registration = cli_invocations("idp-register-console")
    assert [words[:3] for words in console_registration] == [
        ["idp", "clients", "show"],
        ["idp", "operators", "console-client"],
    ]
    assert cli_invocations("idp-worker") == [["idp", "deliver"]]
    assert cli_invocations("idp-logouts") == [["idp", "oidc", "deliver-logouts"]]
    assert cli_invocations("portal-worker")[0][:3] == ["portal", "deliver", "--loop"]
    assert cli_invocations("portal-mixer")[0][:4] == ["portal", "election", "mix", "--loop"]
    registration = cli_invocations("idp-register-portal")
    assert [words[:3] for words in registration] == [["idp", "clients", "show"], ["idp", "clients", "create"]]
    assert "--first-party" in registration[1] and "--client-id" in registration[1]
    for name in SERVICES:
        for invocation in cli_invocations(name) if SERVICES[name].get("command") else []:
            if invocation[0] in {"idp", "portal"}:
                _accepts(idp_main if invocation[0] == "idp" else portal_main, invocation)


def test_loops_stop_on_sigterm_and_mix_periodically() -> None:
    mixer = [interpolate(word) for word in command("portal-mixer")]
    assert mixer == ["portal", "election", "mix", "--loop", "--interval", DOTENV["ELECTIONS_MIX_INTERVAL"]]
    # An init reaps and forwards signals; the loops stop on SIGTERM after their current round (infra.worker).
    for name in ["portal-worker", "portal-mixer"]:
        assert SERVICES[name].get("init") is True, name


# --- Health checks -------------------------------------------------------------------------------------------------


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name in LONG_RUNNING:
        check = SERVICES[name].get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
    assert SERVICES["postgres"]["healthcheck"]["test"][1] == "pg_isready"
    assert SERVICES["redis"]["healthcheck"]["test"][1:] == ["redis-cli", "ping"]
    for name in [*IDP_REPLICAS, *PORTAL_REPLICAS, FC_SERVICE, CONSOLE_SERVICE]:
        test = " ".join(SERVICES[name]["healthcheck"]["test"])
        assert "python -c" in test and "urllib.request" in test
        port = re.search(r"--host 0\.0\.0\.0 --port (\d+)", " ".join(command(name)))
        assert port and f"http://127.0.0.1:{port.group(1)}/healthz" in test, f"{name}: checks another port"
    for name in ["idp-worker", "idp-logouts"]:
        assert SERVICES[name]["healthcheck"]["test"][1:] == ["idp", "db", "check"]
    for name in ["portal-worker", "portal-mixer"]:
        assert SERVICES[name]["healthcheck"]["test"][1:] == ["portal", "db", "check"]


# --- Portal and its registration -----------------------------------------------------------------------------------


def test_portal_configuration_matches_the_idp_and_the_proxy() -> None:
    portal = {k: interpolate(v) for k, v in environment("portal-1").items()}
    assert portal["PORTAL_ENV"] == "production"
    assert portal["PORTAL_IDP_ISSUER"] == interpolate(environment("idp-1")["IDP_PUBLIC_URL"])
    assert urlsplit(portal["PORTAL_DATABASE_URL"]).path == "/portal"
    assert "CREATE DATABASE portal" in (DEPLOY / "postgres" / "10-portal-database.sh").read_text(encoding="utf-8")
    registration = {k: interpolate(v) for k, v in environment("idp-register-portal").items()}
    for variable in ("PORTAL_PUBLIC_URL", "PORTAL_CLIENT_ID", "PORTAL_CLIENT_SECRET_FILE"):
        assert registration[variable] == portal[variable], f"the job registers what the portal uses: {variable}"
    # The portal and the logout worker call the public names: the proxy answers to them on their network.
    aliases = SERVICES["proxy"]["networks"]["public"]["aliases"]
    for url in (portal["PORTAL_IDP_ISSUER"], portal["PORTAL_PUBLIC_URL"]):
        assert urlsplit(url).hostname in [interpolate(a) for a in aliases]
    for name in [*PORTAL_REPLICAS, "idp-logouts"]:
        assert "public" in SERVICES[name]["networks"], name
        bundle = environment(name)["REQUESTS_CA_BUNDLE"]
        assert volumes(name)[str(Path(bundle).parent)].startswith("trust:") and volumes(name)[
            str(Path(bundle).parent)
        ].endswith(":ro")
    assert volumes("trust-bundle")["/trust"] == "trust:/trust"
    # The secret travels through the portal-client volume, written by the job, read-only in the portal.
    assert volumes("idp-register-portal")[PORTAL_CLIENT_DIR] == f"portal-client:{PORTAL_CLIENT_DIR}"
    for name in PORTAL_REPLICAS:
        assert volumes(name)[PORTAL_CLIENT_DIR] == f"portal-client:{PORTAL_CLIENT_DIR}:ro"


def test_registration_job_registers_the_portal_once_and_the_portal_starts(
    generated_secrets: Path, sqlite_template: SQLiteTemplate, tmp_path: Path
) -> None:
    """deploy/register-portal.sh against a real IdP: first run registers portail-elections with the portal's
    callback URLs and writes the secret; second run changes nothing; the portal built from its compose environment
    starts with that secret, which the IdP accepts; without the secret file the job refuses to go on."""
    from idp.db import Database
    from idp.oidc import clients
    from relying_party import create_app as create_portal
    from relying_party.db import Database as PortalDatabase
    from relying_party.migrate import upgrade as portal_upgrade
    from relying_party.signin.views import CALLBACK_PATH, SIGNED_OUT_PATH

    idp_database = sqlite_template.fresh(tmp_path).database_url
    client_dir = tmp_path / "portal-client"
    client_dir.mkdir(mode=0o700)
    secret_file = client_dir / "client_secret"
    env = local_environment(
        "idp-register-portal",
        generated_secrets,
        IDP_DATABASE_URL=idp_database,
        IDP_REDIS_URL=None,
        PORTAL_CLIENT_SECRET_FILE=str(secret_file),
    )
    first = run_script("register-portal.sh", cwd=tmp_path, env=env)
    assert "registered" in first.stdout
    secret = secret_file.read_text(encoding="utf-8").strip()
    assert len(secret) >= 32 and secret not in first.stdout + first.stderr, "the secret is never printed"
    assert secret_file.stat().st_mode & 0o077 == 0
    second = run_script("register-portal.sh", cwd=tmp_path, env=env)
    assert "already registered" in second.stdout
    assert secret_file.read_text(encoding="utf-8").strip() == secret

    portal_url = env["PORTAL_PUBLIC_URL"]
    database = Database(idp_database)
    try:
        with database.transaction() as session:
            client = clients.find(session, env["PORTAL_CLIENT_ID"])
            assert client is not None and client.first_party and client.check_client_secret(secret)
            metadata = client.client_metadata
    finally:
        database.dispose()
    assert metadata["redirect_uris"] == [portal_url + CALLBACK_PATH]
    assert metadata["post_logout_redirect_uris"] == [portal_url + SIGNED_OUT_PATH]

    portal_db = PortalDatabase(f"sqlite:///{tmp_path / 'portal.sqlite3'}")
    portal_upgrade(portal_db.engine)
    portal_db.dispose()
    portal_env = local_environment(
        "portal-1",
        generated_secrets,
        PORTAL_REDIS_URL=None,
        PORTAL_DATABASE_URL=f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        PORTAL_CLIENT_SECRET_FILE=str(secret_file),
    )
    portal = create_portal(environ=portal_env)
    try:
        assert portal.config["CLIENT_SECRET"] == secret
        assert portal.test_client().get("/healthz").status_code == 200
        routes = {rule.rule for rule in portal.url_map.iter_rules()}
        assert {CALLBACK_PATH, SIGNED_OUT_PATH} <= routes
        assert urlsplit(metadata["backchannel_logout_uri"]).path in routes
    finally:
        dispose(portal)

    # The secret lost (volume deleted, database kept): the job stops and says so; it cannot make a new one.
    secret_file.unlink()
    lost = run_script("register-portal.sh", cwd=tmp_path, env=env, check=False)
    assert lost.returncode == 1 and "secret is lost" in lost.stderr
    assert not secret_file.exists()


def test_registration_job_registers_the_operators_console_and_the_console_starts(
    generated_secrets: Path, sqlite_template: SQLiteTemplate, portal_sqlite_template: SQLiteTemplate, tmp_path: Path
) -> None:
    """deploy/register-operator-console.sh against a real IdP: registers operator-console once, the secret never
    printed; the console built from its compose environment starts with it and reads both databases."""
    from idp.db import Database
    from idp.oidc import clients
    from operator_console import create_app as create_console
    from operator_console.figures import portal_engine

    idp_database = sqlite_template.fresh(tmp_path).database_url
    (tmp_path / "portal").mkdir()
    portal_database = portal_sqlite_template.fresh(tmp_path / "portal").database_url
    secret_file = tmp_path / "client_secret"
    env = local_environment(
        "idp-register-console",
        generated_secrets,
        IDP_DATABASE_URL=idp_database,
        IDP_REDIS_URL=None,
        OPERATOR_CONSOLE_CLIENT_SECRET_FILE=str(secret_file),
    )
    first = run_script("register-operator-console.sh", cwd=tmp_path, env=env)
    assert "registered" in first.stdout
    secret = secret_file.read_text(encoding="utf-8").strip()
    assert len(secret) >= 32 and secret not in first.stdout + first.stderr, "the secret is never printed"
    assert "already registered" in run_script("register-operator-console.sh", cwd=tmp_path, env=env).stdout
    database = Database(idp_database)
    try:
        with database.transaction() as session:
            client = clients.find(session, env["OPERATOR_CONSOLE_CLIENT_ID"])
            assert client is not None and client.first_party and client.check_client_secret(secret)
            assert client.client_metadata["redirect_uris"] == [env["OPERATOR_CONSOLE_PUBLIC_URL"] + "/connexion/retour"]
    finally:
        database.dispose()
    console_env = local_environment(
        CONSOLE_SERVICE,
        generated_secrets,
        OPERATOR_CONSOLE_REDIS_URL=None,
        OPERATOR_CONSOLE_DATABASE_URL=idp_database,
        OPERATOR_CONSOLE_PORTAL_DATABASE_URL=portal_database,
        OPERATOR_CONSOLE_EPHEMERAL_DATABASE_URL=f"sqlite:///{tmp_path / 'console.sqlite3'}",
        OPERATOR_CONSOLE_CLIENT_SECRET_FILE=str(secret_file),
    )
    console = create_console(environ=console_env)
    try:
        assert console.config["CLIENT_SECRET"] == secret
        assert console.test_client().get("/healthz").status_code == 200
    finally:
        from infra.db import get_db
        from infra.store import get_store

        get_db(console).dispose()
        portal_engine(console).dispose()
        get_store(console).close()


# --- Development FranceConnect-style provider ----------------------------------------------------------------------


def test_fc_dev_provider_is_marked_development_only() -> None:
    block = COMPOSE_TEXT.split(f"  {FC_SERVICE}:\n", 1)[1].split("\n\n", 1)[0]
    assert "DEVELOPMENT ONLY — replace with FranceConnect's real endpoints in production" in block
    caddyfile = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    assert "development only" in caddyfile.split("{$SITE_FC", 1)[0].rsplit("\n\n", 1)[1].lower()


def test_fc_dev_provider_serves_the_idp_from_the_compose_environment(generated_secrets: Path) -> None:
    """Built from its compose environment: it publishes the issuer the IdP checks, knows the IdP's public callback
    with the IdP's secret, and answers the token endpoint on the internal address the IdP calls."""
    from fc_dev_provider import create_app
    from fc_dev_provider.provider import EXTENSION

    env = local_environment(
        FC_SERVICE,
        generated_secrets,
        FCDEV_REDIS_URL=backends_redis_url(),
        FCDEV_REDIS_PREFIX=f"test:{uuid.uuid4().hex}:",
    )
    idp = {k: interpolate(v) for k, v in environment("idp-1").items()}
    app = create_app(environ=env)
    client_id = idp["IDP_FC_CLIENT_ID"]
    registered = app.extensions[EXTENSION].clients[client_id]
    assert registered.redirect_uris == (idp["IDP_PUBLIC_URL"] + "/federation/franceconnect/callback",)
    assert registered.post_logout_redirect_uris == (idp["IDP_PUBLIC_URL"] + "/federation/franceconnect/logged-out",)
    assert registered.check_client_secret((generated_secrets / "fc_client_secret").read_text(encoding="utf-8").strip())
    internal = urlsplit(idp["IDP_FC_INTERNAL_BASE_URL"])
    base = f"{internal.scheme}://{internal.netloc}"
    web = app.test_client()
    assert web.get("/healthz", base_url=base).status_code == 200
    discovery = web.get(internal.path + "/.well-known/openid-configuration", base_url=base).get_json()
    assert discovery["issuer"] == idp["IDP_FC_ISSUER"]
    # Authlib refuses plain http to a host that is not loopback for an https issuer: the service's environment
    # must allow it, or the IdP's token request ends in a 500.
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AUTHLIB_INSECURE_TRANSPORT", raising=False)
        for name in OTHER_VARIABLES & set(env):
            patch.setenv(name, env[name])
        answer = web.post(
            internal.path + "/token",
            base_url=base,
            auth=(client_id, registered.client_secret),
            data={"grant_type": "authorization_code", "code": "inconnu", "redirect_uri": registered.redirect_uris[0]},
        )
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_grant"


def backends_redis_url() -> str:
    from tests import backends

    reason = backends.redis_reason()
    if reason:
        backends.unavailable(reason)
    return backends.REDIS_URL


# --- Proxy and trust -----------------------------------------------------------------------------------------------


def caddyfile_as_deployed() -> str:
    """deploy/Caddyfile with its placeholders other than the site names at their defaults (docker-compose's upstreams
    and admin address; the fault benchmark sets them to loopback ports)."""
    caddyfile = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    return re.sub(r"\{\$(?!SITE_)[A-Z_]+:([^}]*)\}", r"\1", caddyfile)


def _sites() -> dict[str, str]:
    """Site address of the Caddyfile → its reverse_proxy upstreams."""
    caddyfile = caddyfile_as_deployed()
    return {
        m.group(1): m.group(2).strip()
        for m in re.finditer(
            r"^(\{\$SITE_[A-Z]+:[^}]+\})\s*\{.*?reverse_proxy\s+([^{\n]+)\{", caddyfile, re.MULTILINE | re.DOTALL
        )
    }


def test_proxy_serves_every_public_name_with_active_health_checks() -> None:
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in SERVICES["proxy"]["volumes"]
    sites = _sites()
    upstream = {
        re.match(r"\{\$(SITE_[A-Z]+)", site).group(1): set(targets.split())  # type: ignore[union-attr]
        for site, targets in sites.items()
    }
    assert upstream == {
        "SITE_IDP": {f"{name}:8000" for name in IDP_REPLICAS},
        "SITE_PORTAL": {f"{name}:8000" for name in PORTAL_REPLICAS},
        "SITE_FC": {f"{FC_SERVICE}:5002"},
        "SITE_CONSOLE": {f"{CONSOLE_SERVICE}:8000"},
    }
    proxy_env = {k: interpolate(v) for k, v in environment("proxy").items()}
    hosts = {
        "SITE_IDP": "IDP_PUBLIC_URL",
        "SITE_PORTAL": "PORTAL_PUBLIC_URL",
        "SITE_FC": "IDP_FC_ISSUER",
        "SITE_CONSOLE": "OPERATOR_CONSOLE_PUBLIC_URL",
    }
    urls = {
        **{k: interpolate(v) for k, v in environment("idp-1").items()},
        **{k: interpolate(v) for k, v in environment("portal-1").items()},
        **{k: interpolate(v) for k, v in environment(CONSOLE_SERVICE).items()},
    }
    for site, variable in hosts.items():
        assert proxy_env[site] == urlsplit(urls[variable]).hostname
    caddyfile = caddyfile_as_deployed()
    # The voters' apps are checked on /readyz (draining takes a replica out), often enough for a rolling restart
    # to wait little (infra.web_server); the single-process sites on /healthz.
    readiness = (
        f"health_uri /readyz\n\t\thealth_interval {web_server.PROXY_HEALTH_INTERVAL}s\n"
        f"\t\thealth_timeout {web_server.PROXY_HEALTH_TIMEOUT}s\n"
    )
    assert caddyfile.count(readiness) == 2
    assert caddyfile.count("health_uri /healthz") == 2


def test_web_replicas_can_be_drained_and_stopped_gracefully() -> None:
    """Each replica behind the proxy has its drain file in a tmpfs of its own (a restarted container is ready again)
    and gives granian its kill timeout before docker kills it."""
    for name, prefix in [*((n, "IDP_") for n in IDP_REPLICAS), *((n, "PORTAL_") for n in PORTAL_REPLICAS)]:
        drain = Path(environment(name)[f"{prefix}DRAIN_PATH"])
        assert str(drain.parent) in SERVICES[name]["tmpfs"], name
        grace = SERVICES[name]["stop_grace_period"]
        assert grace.endswith("s") and int(grace[:-1]) > web_server.GRACEFUL_TIMEOUT, name


def _caddy_validate(data_home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["caddy", "validate", "--adapter", "caddyfile", "--config", str(DEPLOY / "Caddyfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        # HOME / XDG_DATA_HOME: caddy prepares its storage (its internal CA) while validating; keep it out of the tree.
        env={
            "SITE_IDP": "idp.localhost",
            "SITE_PORTAL": "portal.localhost",
            "SITE_FC": "fc.localhost",
            "SITE_CONSOLE": "pilotage.localhost",
            "HOME": str(data_home),
            "XDG_DATA_HOME": str(data_home),
            "PATH": os.environ.get("PATH", os.defpath),
        },
    )


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed (apt-get install caddy)")
def test_caddyfile_is_valid(tmp_path: Path) -> None:
    result = _caddy_validate(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed (apt-get install caddy)")
def test_trust_bundle_holds_the_root_caddy_generates_and_never_its_key(tmp_path: Path) -> None:
    assert _caddy_validate(tmp_path).returncode == 0
    relative = "caddy/pki/authorities/local/root.crt"
    root = tmp_path / relative
    assert root.is_file(), "caddy keeps its internal root elsewhere: update deploy/trust-bundle.sh"
    # In the caddy image XDG_DATA_HOME is /data, the volume the job mounts.
    assert f"root=${{CADDY_ROOT_CERT:-/data/{relative}}}" in (DEPLOY / "trust-bundle.sh").read_text(encoding="utf-8")
    assert volumes("trust-bundle")["/data"] == "caddydata:/data:ro"
    system = tmp_path / "system.pem"
    system.write_text("# public CAs\n", encoding="utf-8")
    env = {
        "CADDY_ROOT_CERT": str(root),
        "SYSTEM_CA_BUNDLE": str(system),
        "TRUST_BUNDLE": str(tmp_path / "b.pem"),
        **{k: interpolate(v) for k, v in environment("trust-bundle").items()},
    }
    run_script("trust-bundle.sh", cwd=tmp_path, env=env)
    bundle = (tmp_path / "b.pem").read_text(encoding="utf-8")
    assert bundle.startswith("# public CAs") and root.read_text(encoding="utf-8") in bundle
    assert "PRIVATE KEY" not in bundle


def test_trust_bundle_without_internal_ca(tmp_path: Path) -> None:
    system = tmp_path / "system.pem"
    system.write_text("# public CAs\n", encoding="utf-8")
    env = {
        "CADDY_ROOT_CERT": str(tmp_path / "absent.crt"),
        "SYSTEM_CA_BUNDLE": str(system),
        "TRUST_BUNDLE": str(tmp_path / "b.pem"),
        "TRUST_WAIT": "1",
    }
    # Public names (ACME): the public CAs alone, at once.
    run_script(
        "trust-bundle.sh",
        cwd=tmp_path,
        env={
            **env,
            "SITE_IDP": "connexion.elections.example.gouv.fr",
            "SITE_PORTAL": "portail.elections.example.gouv.fr",
        },
    )
    assert (tmp_path / "b.pem").read_text(encoding="utf-8") == "# public CAs\n"
    # *.localhost names without Caddy's root: the job fails rather than hand out a bundle that cannot work.
    failed = run_script("trust-bundle.sh", cwd=tmp_path, env={**env, "SITE_IDP": "idp.localhost"}, check=False)
    assert failed.returncode == 1 and "no root certificate" in failed.stderr


# --- Image and secrets ---------------------------------------------------------------------------------------------


def test_dockerfile_installs_the_project() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    instructions = [line.strip() for line in dockerfile.splitlines() if line.strip() and not line.startswith("#")]
    assert instructions[0].startswith("FROM python:3.11-slim")
    assert any(re.match(r"RUN pip install \.(\s|$)", line) for line in instructions)
    users = [i for i, line in enumerate(instructions) if line.startswith("USER ")]
    assert users and not instructions[users[-1]].startswith("USER root")
    # The portal-client volume is initialised from this directory: it must belong to the containers' user.
    owned = [
        i
        for i, line in enumerate(instructions)
        if line.startswith("RUN install -d -o 10001 -g 10001") and line.endswith(PORTAL_CLIENT_DIR)
    ]
    assert owned and owned[0] < users[-1]
    console_owned = [
        i
        for i, line in enumerate(instructions)
        if line.startswith("RUN install -d -o 10001 -g 10001") and line.endswith(CONSOLE_CLIENT_DIR)
    ]
    assert console_owned and console_owned[0] < users[-1]
    assert '"--factory"' in dockerfile and '"idp:create_app"]' in dockerfile
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {"secrets", ".env", ".venv", ".git"} <= set(ignored), "secrets must never enter the build context"


def test_no_secret_value_is_inline() -> None:
    for name, service in SERVICES.items():
        for variable, value in environment(name).items():
            if variable == "PORTAL_CLIENT_SECRET_FILE":
                assert Path(value).parent == Path(PORTAL_CLIENT_DIR) and PORTAL_CLIENT_DIR in volumes(name)
            elif variable == "OPERATOR_CONSOLE_CLIENT_SECRET_FILE":
                assert Path(value).parent == Path(CONSOLE_CLIENT_DIR) and CONSOLE_CLIENT_DIR in volumes(name)
            elif variable.endswith("_FILE") or variable == "PGPASSFILE":
                assert value.startswith("/run/secrets/"), f"{name}: {variable} must name a docker secret"
                assert Path(value).name in service.get("secrets", []), f"{name}: {value} is not mounted"
            else:
                assert not SECRET_WORDS.search(variable), f"{name}: {variable} holds a secret in clear"
            if "://" in value:
                assert urlsplit(interpolate(value)).password is None, f"{name}: password in {variable}"
    assert not SECRET_WORDS.search("\n".join(DOTENV)), "deploy/env.example is for settings, not secrets"
    for secret, definition in COMPOSE["secrets"].items():
        assert set(definition) == {"file"} and definition["file"] == f"./secrets/{secret}"
        assert not (ROOT / "secrets" / secret).exists() or not _tracked_by_git(f"secrets/{secret}")
    used = {s for service in SERVICES.values() for s in service.get("secrets", [])}
    assert used == set(COMPOSE["secrets"]), "every declared secret is used, every used secret declared"


def test_make_secrets_creates_every_compose_secret_once(generated_secrets: Path) -> None:
    from fc_dev_provider.clients import load_clients
    from fc_dev_provider.keys import SigningKey

    assert {p.name for p in generated_secrets.iterdir()} == set(COMPOSE["secrets"])
    contents = {}
    for path in generated_secrets.iterdir():
        assert path.stat().st_mode & 0o777 == 0o400, path.name
        contents[path.name] = path.read_bytes()
        assert contents[path.name].strip(), path.name
    for name in ("idp_secret_key", "idp_hmac_key", "idp_key_encryption_key", "portal_secret_key", "fcdev_secret_key"):
        assert len(contents[name].strip()) >= 32, f"{name}: production needs at least 32 characters"
    password = contents["postgres_password"].decode().strip()
    assert contents["pgpass"].decode() == f"postgres:5432:*:elections:{password}\n"
    SigningKey.from_file(generated_secrets / "fcdev_signing_key")
    clients = load_clients(None, generated_secrets / "fcdev_clients")
    assert clients["portail-elections-idp"].client_secret == contents["fc_client_secret"].decode().strip()
    # A second run keeps every file as it is (a new HMAC key would make every stored hash unusable).
    again = run_script("make-secrets.sh", cwd=generated_secrets.parent, env={})
    assert "created" not in again.stdout
    assert all(path.read_bytes() == contents[path.name] for path in generated_secrets.iterdir())


def _tracked_by_git(path: str) -> bool:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return False
    result = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "--error-unmatch", path], capture_output=True, check=False
    )
    return result.returncode == 0
