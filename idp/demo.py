"""``make demo``: the whole suite on the embedded default, with the demo data of the seed.

Creates ``instance/`` (SQLite databases and generated development secrets, never committed), migrates, loads the
demo voters (Mme Claire Jullien, académie de Dijon, not yet activated; M. Marc Durand, already activated), then runs
the IdP web server and the delivery worker until Ctrl+C, and prints the addresses and credentials.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import click

INSTANCE = Path("instance").resolve()
IDP_PORT = int(os.environ.get("DEMO_IDP_PORT", "5000"))
#: Fictitious demo account that is activated at load time, for a quick look without the activation step.
ACTIVATED_DEMO_VOTER = "marc.durand@ac-dijon.fr"
ACTIVATED_DEMO_PASSWORD = "demo: un mot de passe pour essayer"  # noqa: S105 - fictitious, development only
ACTIVATED_DEMO_ANSWER = "Les Canaris"


def _secrets_file() -> Path:
    """Development secrets, generated once per checkout and kept in instance/ (git-ignored)."""
    path = INSTANCE / "demo-secrets.env"
    if not path.exists():
        INSTANCE.mkdir(parents=True, exist_ok=True)
        lines = [
            f"{name}={secrets.token_urlsafe(48)}"
            for name in ("IDP_SECRET_KEY", "IDP_HMAC_KEY", "IDP_KEY_ENCRYPTION_KEY")
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        path.chmod(0o600)
    return path


def demo_environment() -> dict[str, str]:
    env = dict(os.environ)
    for line in _secrets_file().read_text(encoding="utf-8").splitlines():
        name, _, value = line.partition("=")
        env.setdefault(name, value)
    env.setdefault("IDP_ENV", "development")
    env.setdefault("IDP_DATABASE_URL", f"sqlite:///{INSTANCE / 'idp.sqlite3'}")
    env.setdefault("IDP_PUBLIC_URL", f"http://localhost:{IDP_PORT}")
    env.setdefault("IDP_MAIL_BACKEND", "outbox")
    env.setdefault("IDP_SMS_BACKEND", "outbox")
    env.pop("IDP_REDIS_URL", None)
    return env


def _idp(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "idp.cli", *args], env=env, check=True)  # noqa: S603


def load_demo_data() -> None:
    """Import the demo voters and activate the second one (idempotent)."""
    from flask import current_app
    from sqlalchemy import select

    from idp.auth.service import hasher
    from idp.db import get_db
    from idp.models import Voter, utcnow
    from idp.security.normalise import normalise_answer
    from idp.voters.importer import import_voters

    csv_path = resources.files("idp.demo_data").joinpath("voters.csv")
    with resources.as_file(csv_path) as path:
        report = import_voters(get_db().engine, path, current_app.extensions["idp.keyed"])
    click.echo(f"demo voters: {report.summary()}")
    with get_db().transaction() as session:
        voter = session.execute(select(Voter).where(Voter.identifier == ACTIVATED_DEMO_VOTER)).scalar_one()
        if not voter.is_activated:
            voter.password_hash = hasher().hash(ACTIVATED_DEMO_PASSWORD)
            voter.challenge_question = "football_team"
            voter.challenge_answer_hash = hasher().hash(normalise_answer(ACTIVATED_DEMO_ANSWER))
            voter.activated_at = utcnow()


def register(main: click.Group) -> None:
    @main.group("demo")
    def demo_group() -> None:
        """Demonstration data (development only)."""

    @demo_group.command("load")
    def load() -> None:
        """Load the demo voters of the seed journey."""
        from flask import current_app

        if current_app.config["ENV"] != "development":
            raise click.ClickException("demo data is only loaded when IDP_ENV=development")
        load_demo_data()


def _banner() -> str:
    idp = f"http://localhost:{IDP_PORT}"
    return f"""
Portail Élections – démonstration (SQLite, store SQL, boîte d'envoi de développement)

  Fournisseur d'identité (IdP) : {idp}/login
  Boîte d'envoi (messages)     : {idp}/dev/outbox

  Première connexion (activation) : claire.jullien@ac-dijon.fr
      → « Recevoir mon lien d'activation », puis ouvrez le lien dans la boîte d'envoi.
  Compte déjà activé              : {ACTIVATED_DEMO_VOTER}
      mot de passe Élections : {ACTIVATED_DEMO_PASSWORD}
  Le CAPTCHA est affiché à l'écran (image, ou version audio).

Ctrl+C arrête tout.
"""


def main() -> None:
    env = demo_environment()
    _idp("db", "upgrade", env=env)
    _idp("demo", "load", env=env)
    processes = [
        subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{IDP_PORT}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
                "idp:create_app()",
            ],
            env=env,
        ),
        subprocess.Popen([sys.executable, "-m", "idp.cli", "deliver", "--interval", "1"], env=env),
    ]
    time.sleep(1.5)
    print(_banner(), flush=True)

    def stop(*_: object) -> None:
        for process in processes:
            if process.poll() is None:
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for process in processes:
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
