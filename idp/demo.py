"""``make demo``: the whole suite on the embedded default, with the demo data of the seed.

Creates ``instance/`` (SQLite databases and generated development secrets, never committed), migrates the IdP and
the portal, creates the signing keys, loads the demo voters (Mme Claire Jullien, académie de Dijon, not yet
activated; M. Marc Durand, already activated), registers the portal as a first-party client, gives both voters a
fresh vote code, loads the portal's scrutins (open now for seven more days), then runs the IdP, the portal, the
FranceConnect-style development provider and the workers until Ctrl+C, and prints the addresses and credentials.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click
from flask import current_app
from sqlalchemy import select

from idp.db import get_db
from idp.models import Voter, utcnow
from idp.oidc.clients import ClientSettings, create, find
from idp.oidc.provider import get_provider
from idp.operators.accounts import add_operator
from idp.plugins import ENTRY_POINT_GROUP
from idp.security.normalise import normalise_answer
from idp.staff.cli import CONSOLE_CALLBACK_PATH, CONSOLE_SIGNED_OUT_PATH, console_client_settings
from idp.votecode.service import issue_code
from idp.voters.importer import import_voters
from idp.web import keyed_hasher, secret_hasher
from infra.web_server import python_granian_argv

INSTANCE = Path("instance").resolve()
IDP_PORT = int(os.environ.get("DEMO_IDP_PORT", "5000"))
PORTAL_PORT = int(os.environ.get("DEMO_PORTAL_PORT", "5001"))
FC_PORT = int(os.environ.get("DEMO_FC_PORT", "5002"))
CONSOLE_PORT = int(os.environ.get("DEMO_CONSOLE_PORT", "5004"))
PORTAL_CLIENT_ID = "portail-elections"
CONSOLE_CLIENT_ID = "operator-console"
#: How often the demo mixes the portal's ballot box (see docs/auditors/ballot-box.md).
MIX_INTERVAL = 60
#: Fictitious demo account that is activated at load time, for a quick look without the activation step.
ACTIVATED_DEMO_VOTER = "marc.durand@ac-dijon.fr"
ACTIVATED_DEMO_PASSWORD = "demo: un mot de passe pour essayer"  # noqa: S105 - fictitious, development only
ACTIVATED_DEMO_ANSWER = "Les Canaris"
#: Fictitious operator account of the demo (operators' console), activated at load time.
DEMO_OPERATOR = "alix.pilotage@pilotage.example.fr"
DEMO_OPERATOR_PASSWORD = "demo: le mot de passe de l'opératrice"  # noqa: S105 - fictitious, development only


SECRET_NAMES = (
    "IDP_SECRET_KEY",
    "IDP_HMAC_KEY",
    "IDP_KEY_ENCRYPTION_KEY",
    "PORTAL_SECRET_KEY",
    "PORTAL_CLIENT_SECRET",
    "FCDEV_SECRET_KEY",
    "OPERATOR_CONSOLE_SECRET_KEY",
    "OPERATOR_CONSOLE_CLIENT_SECRET",
)


def _secrets_file() -> Path:
    """Development secrets, generated once per checkout and kept in instance/ (git-ignored)."""
    path = INSTANCE / "demo-secrets.env"
    INSTANCE.mkdir(parents=True, exist_ok=True)
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    known = {line.partition("=")[0] for line in existing.splitlines()}
    missing = [f"{name}={secrets.token_urlsafe(48)}\n" for name in SECRET_NAMES if name not in known]
    if missing:
        path.write_text(existing + "".join(missing), encoding="utf-8")
        path.chmod(0o600)
    return path


def demo_environment() -> dict[str, str]:
    env = dict(os.environ)
    for line in _secrets_file().read_text(encoding="utf-8").splitlines():
        name, _, value = line.partition("=")
        env.setdefault(name, value)
    idp = f"http://localhost:{IDP_PORT}"
    env.setdefault("IDP_ENV", "development")
    env.setdefault("IDP_DATABASE_URL", f"sqlite:///{INSTANCE / 'idp.sqlite3'}")
    env.setdefault("IDP_PUBLIC_URL", idp)
    env.setdefault("IDP_MAIL_BACKEND", "outbox")
    env.setdefault("IDP_SMS_BACKEND", "outbox")
    env.pop("IDP_REDIS_URL", None)
    if _plugin_installed("reassort"):
        env.setdefault("IDP_PLUGINS", "reassort")
    env.setdefault("PORTAL_ENV", "development")
    env.setdefault("PORTAL_DATABASE_URL", f"sqlite:///{INSTANCE / 'portal.sqlite3'}")
    env.setdefault("PORTAL_PUBLIC_URL", f"http://localhost:{PORTAL_PORT}")
    env.setdefault("PORTAL_IDP_ISSUER", idp)
    env.setdefault("PORTAL_CLIENT_ID", PORTAL_CLIENT_ID)
    env.pop("PORTAL_REDIS_URL", None)
    env.setdefault("FCDEV_ISSUER", f"http://localhost:{FC_PORT}/api/v2")
    # The IdP federates with the development provider, as it would with FranceConnect. The provider's client list
    # is written here, from the IdP's address of this run: a demo on other ports (DEMO_IDP_PORT) is registered at
    # those ports, and the provider's CSP (form-action, derived from the clients) lets the browser go back to them.
    fc_client = _development_fc_client()
    if "FCDEV_CLIENTS" not in env and "FCDEV_CLIENTS_FILE" not in env:
        env["FCDEV_CLIENTS"] = json.dumps({"clients": [_registered_at(fc_client, idp)]})
    env.setdefault("IDP_FC_ENABLED", "true")
    env.setdefault("IDP_FC_ISSUER", env["FCDEV_ISSUER"])
    env.setdefault("IDP_FC_CLIENT_ID", fc_client["client_id"])
    env.setdefault("IDP_FC_CLIENT_SECRET", fc_client["client_secret"])
    env.setdefault("OPERATOR_CONSOLE_ENV", "development")
    env.setdefault("OPERATOR_CONSOLE_DATABASE_URL", env["IDP_DATABASE_URL"])
    env.setdefault("OPERATOR_CONSOLE_PORTAL_DATABASE_URL", env["PORTAL_DATABASE_URL"])
    env.setdefault("OPERATOR_CONSOLE_EPHEMERAL_DATABASE_URL", f"sqlite:///{INSTANCE / 'operator-console.sqlite3'}")
    env.setdefault("OPERATOR_CONSOLE_PUBLIC_URL", f"http://localhost:{CONSOLE_PORT}")
    env.setdefault("OPERATOR_CONSOLE_IDP_ISSUER", idp)
    env.setdefault("OPERATOR_CONSOLE_CLIENT_ID", CONSOLE_CLIENT_ID)
    env.pop("OPERATOR_CONSOLE_REDIS_URL", None)
    return env


def _development_fc_client() -> dict[str, Any]:
    """The IdP's registration at the development provider, as shipped in its clients file."""
    clients = json.loads(resources.files("fc_dev_provider.data").joinpath("clients.json").read_text(encoding="utf-8"))
    client: dict[str, Any] = next(c for c in clients["clients"] if c["client_id"] == "portail-elections-idp")
    return client


def _registered_at(client: dict[str, Any], idp_url: str) -> dict[str, Any]:
    """``client`` with its callback and signed-out addresses under ``idp_url`` (the shipped file says port 5000)."""
    return {
        **client,
        "redirect_uris": [f"{idp_url}/federation/franceconnect/callback"],
        "post_logout_redirect_uris": [f"{idp_url}/federation/franceconnect/logged-out"],
    }


def _plugin_installed(name: str) -> bool:
    return any(ep.name == name for ep in entry_points(group=ENTRY_POINT_GROUP))


def _run(*args: str, env: dict[str, str]) -> str:
    """Run a set-up command; its output is returned (and shown on failure)."""
    done = subprocess.run([sys.executable, "-m", *args], env=env, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"demo set-up failed: {' '.join(args)}")
    return done.stdout


def _load_demo_operator(console_url: str, console_client_secret: str) -> None:
    """The demo operator (activated) and the operators' console registered at ``console_url`` (idempotent)."""
    with get_db().transaction() as session:
        operator = session.execute(select(Voter).where(Voter.identifier == DEMO_OPERATOR)).scalar_one_or_none()
        if operator is None:
            operator = add_operator(session, DEMO_OPERATOR, "Alix Pilotage")
        if operator.password_hash is None:
            operator.password_hash = secret_hasher().hash(DEMO_OPERATOR_PASSWORD)
            operator.challenge_question = "football_team"
            operator.challenge_answer_hash = secret_hasher().hash(normalise_answer(ACTIVATED_DEMO_ANSWER))
            operator.activated_at = utcnow()
        console = find(session, CONSOLE_CLIENT_ID)
        if console is not None and console.redirect_uris != [console_url + CONSOLE_CALLBACK_PATH]:
            console.redirect_uris = [console_url + CONSOLE_CALLBACK_PATH]
            console.post_logout_redirect_uris = [console_url + CONSOLE_SIGNED_OUT_PATH]
        if console is None:
            settings = console_client_settings("Console des opérateurs", console_url, CONSOLE_CLIENT_ID)
            create(session, settings, current_app.config, allow_http=True, secret=console_client_secret)


def load_demo_data(portal_url: str, portal_client_secret: str) -> list[tuple[str, str]]:
    """Import the demo voters, activate the second one, register the portal, issue fresh vote codes.

    Idempotent, except that every run gives the demo voters new vote codes (so that they can be printed: only their
    keyed hash is stored). Returns ``(identifier, vote code)`` pairs.
    """
    csv_path = resources.files("idp.demo_data").joinpath("voters.csv")
    with resources.as_file(csv_path) as path:
        report = import_voters(get_db().engine, path, current_app.extensions["idp.keyed"])
    click.echo(
        f"demo voters: {report.created} created, {report.updated} updated, {report.unchanged} unchanged", err=True
    )
    codes: list[tuple[str, str]] = []
    with get_db().transaction() as session:
        get_provider(current_app).keys.init(session)
        voter = session.execute(select(Voter).where(Voter.identifier == ACTIVATED_DEMO_VOTER)).scalar_one()
        if not voter.is_activated:
            voter.password_hash = secret_hasher().hash(ACTIVATED_DEMO_PASSWORD)
            voter.challenge_question = "football_team"
            voter.challenge_answer_hash = secret_hasher().hash(normalise_answer(ACTIVATED_DEMO_ANSWER))
            voter.activated_at = utcnow()
        portal_client = find(session, PORTAL_CLIENT_ID)
        if portal_client is not None and portal_client.redirect_uris != [f"{portal_url}/connexion/retour"]:
            # The demo was started before on other ports (DEMO_PORTAL_PORT): follow the portal to its new address.
            portal_client.redirect_uris = [f"{portal_url}/connexion/retour"]
            portal_client.post_logout_redirect_uris = [f"{portal_url}/deconnexion/fin"]
            portal_client.backchannel_logout_uri = f"{portal_url}/backchannel-logout"
        if portal_client is None:
            settings = ClientSettings(
                client_name="Portail Élections (démonstration)",
                client_id=PORTAL_CLIENT_ID,
                redirect_uris=[f"{portal_url}/connexion/retour"],
                post_logout_redirect_uris=[f"{portal_url}/deconnexion/fin"],
                backchannel_logout_uri=f"{portal_url}/backchannel-logout",
                scope="openid profile email academie",
                first_party=True,
            )
            create(session, settings, current_app.config, allow_http=True, secret=portal_client_secret)
        for voter in session.execute(select(Voter).order_by(Voter.id)).scalars():
            codes.append((voter.identifier, issue_code(session, voter, "demo", hasher=keyed_hasher())))
    return codes


def register(main: click.Group) -> None:
    @main.group("demo")
    def demo_group() -> None:
        """Demonstration data (development only)."""

    @demo_group.command("load")
    @click.option("--portal-url", default=f"http://localhost:{PORTAL_PORT}", show_default=True)
    @click.option("--console-url", default=f"http://localhost:{CONSOLE_PORT}", show_default=True)
    def load(portal_url: str, console_url: str) -> None:
        """Load the demo voters, register the demo portal, print fresh vote codes (identifier<TAB>code)."""
        if current_app.config["ENV"] != "development":
            raise click.ClickException("demo data is only loaded when IDP_ENV=development")
        secret = os.environ.get("PORTAL_CLIENT_SECRET")
        if not secret:
            raise click.ClickException("PORTAL_CLIENT_SECRET must be set (make demo generates it)")
        codes = load_demo_data(portal_url.rstrip("/"), secret)
        console_secret = os.environ.get("OPERATOR_CONSOLE_CLIENT_SECRET")
        if console_secret:
            _load_demo_operator(console_url.rstrip("/"), console_secret)
        for identifier, code in codes:
            click.echo(f"{identifier}\t{code}")


def _banner(codes: list[tuple[str, str]], trustees: list[str] | None = None) -> str:
    idp = f"http://localhost:{IDP_PORT}"
    trustee_lines = "\n  ".join(trustees or [])
    code_lines = "\n".join(f"      {identifier:32s} {code}" for identifier, code in codes)
    return f"""
Portail Élections – démonstration (SQLite, store SQL, boîte d'envoi de développement)

  Portail électeur              : http://localhost:{PORTAL_PORT}/
  Fournisseur d'identité (IdP)  : {idp}/   (découverte : {idp}/.well-known/openid-configuration)
  Boîte d'envoi (messages)      : {idp}/dev/outbox
  FranceConnect (développement) : http://localhost:{FC_PORT}/api/v2/.well-known/openid-configuration

  Première connexion (activation) : claire.jullien@ac-dijon.fr
      → « Recevoir mon lien d'activation », puis ouvrez le lien dans la boîte d'envoi.
  Compte déjà activé              : {ACTIVATED_DEMO_VOTER}
      mot de passe Élections : {ACTIVATED_DEMO_PASSWORD}
  Codes de vote (nouveaux à chaque démarrage ; la notice papier de la démonstration) :
{code_lines}
  Le CAPTCHA est affiché à l'écran (image, ou version audio).
  Urne publique d'un scrutin : http://localhost:{PORTAL_PORT}/scrutins/CSA-MEN-2022/urne
  Participation (publique)   : http://localhost:{PORTAL_PORT}/participation

  Console des opérateurs        : http://localhost:{CONSOLE_PORT}/
      compte opérateur : {DEMO_OPERATOR}
      mot de passe     : {DEMO_OPERATOR_PASSWORD}
  {trustee_lines}

Ctrl+C arrête tout.
"""


def _web(factory: str, port: int, workers: int = 2) -> list[str]:
    """The app served as in production (granian, infra.web_server), on loopback."""
    return python_granian_argv(factory, host="127.0.0.1", port=port, workers=workers, threads=4)


def main() -> None:
    env = demo_environment()
    _run("idp.cli", "db", "upgrade", env=env)
    output = _run("idp.cli", "demo", "load", env=env)
    codes = [tuple(line.split("\t", 1)) for line in output.splitlines() if "\t" in line]
    _run("relying_party.cli", "db", "upgrade", env=env)
    portal_output = _run("relying_party.cli", "demo", "load", "--trustees-dir", str(INSTANCE / "demo-garants"), env=env)
    trustees = [line for line in portal_output.splitlines() if line.startswith("Garants de démonstration")]
    commands = [
        _web("idp:create_app", IDP_PORT),
        _web("relying_party:create_app", PORTAL_PORT),
        # One process (threads for concurrency): without Redis the provider keeps its codes and tokens in memory,
        # and draws its signing key at start, so a second worker would know neither.
        _web("fc_dev_provider:create_app", FC_PORT, workers=1),
        _web("operator_console:create_app", CONSOLE_PORT, workers=1),
        [sys.executable, "-m", "idp.cli", "deliver", "--interval", "1"],
        [sys.executable, "-m", "idp.cli", "oidc", "deliver-logouts"],
        [sys.executable, "-m", "relying_party.cli", "deliver", "--loop", "--interval", "5"],
    ]
    processes = [subprocess.Popen(command, env=env) for command in commands]  # noqa: S603
    time.sleep(2)
    print(_banner([(str(a), str(b)) for a, b in codes], trustees), flush=True)

    def stop(*_: object) -> None:
        for process in processes:
            if process.poll() is None:
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    last_mix = time.monotonic()
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
            if time.monotonic() - last_mix > MIX_INTERVAL:
                subprocess.run(
                    [sys.executable, "-m", "relying_party.cli", "election", "mix"],
                    env=env,
                    capture_output=True,
                    check=False,
                )
                last_mix = time.monotonic()
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for process in processes:
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
