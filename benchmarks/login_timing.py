"""Timing of the password step: wrong password vs unknown identifier vs account not yet activated.

The three must be indistinguishable by timing (docs/security/sign-in.md). Runs the real Flask app with production
argon2id parameters on a throw-away SQLite database and prints the median and spread of each case.

    .venv/bin/python -m benchmarks.login_timing [--rounds 40]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from idp import create_app
from idp.db import get_db, make_engine
from idp.migrate import upgrade
from tests.helpers import AuthActions, VoterFactory


def measure(auth: AuthActions, identifier: str, password: str, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        auth.client.get("/login/restart")
        auth.submit_identifier(identifier)
        start = time.perf_counter()
        auth.submit_password(password)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        app = create_app(
            {
                "ENV": "testing",
                "SECRET_KEY": "bench-secret-key-0123456789abcdef",
                "HMAC_KEY": "bench-hmac-key-0123456789",
                "DATABASE_URL": url,
                "CAPTCHA_BACKEND": "fixed:12345",
                "LOCKOUT_THRESHOLD": 10**6,
                "IP_FAILURE_THRESHOLD": 10**6,
            }
        )
        voters = VoterFactory(app)
        known = voters.create("connu.bench@ac-exemple.fr")
        inactive = voters.create("inactif.bench@ac-exemple.fr", password=None)
        auth = AuthActions(app.test_client())
        cases = {
            "wrong password (known, activated)": (known.identifier, "mauvais mot de passe 42"),
            "unknown identifier": ("inconnu.bench@ac-exemple.fr", "mauvais mot de passe 42"),
            "account not yet activated": (inactive.identifier, "mauvais mot de passe 42"),
        }
        measure(auth, known.identifier, "warm-up password 0", 5)
        print(
            f"password step, argon2id t={app.config['ARGON2_TIME_COST']} m={app.config['ARGON2_MEMORY_COST']} KiB, "
            f"{args.rounds} rounds each"
        )
        for label, (identifier, password) in cases.items():
            samples = measure(auth, identifier, password, args.rounds)
            q = statistics.quantiles(samples, n=20)
            print(f"  {label:36s} median {statistics.median(samples):7.2f} ms   p5 {q[0]:7.2f}   p95 {q[-1]:7.2f}")
        get_db(app).dispose()


if __name__ == "__main__":
    main()
