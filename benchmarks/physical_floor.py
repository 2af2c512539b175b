"""The physical floor of this machine: what one core does per second of the primitives a sign-in and a token cost.

argon2id verifications at the production parameters (``idp.config.DEFAULTS``), ES256 and RS256 signatures of an
ID token with joserfc (with the IdP's own key generation), and HMAC-SHA256 keyed hashes (``KeyedHasher``, the
NUMEN/NIR/vote-code hash). One thread each: a figure per core.

    .venv/bin/python -m benchmarks.physical_floor [--seconds 1]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from joserfc import jwt

from idp.config import DEFAULTS
from idp.oidc.keys import generate
from idp.security.keyed import KeyedHasher

ID_TOKEN_CLAIMS = {
    "iss": "https://idp.elections.exemple.fr",
    "sub": "x7Yb2Qm0c3v9R1kLp4sT8wZa",
    "aud": "portail-elections",
    "iat": 1669881600,
    "exp": 1669882200,
    "auth_time": 1669881590,
    "acr": "urn:portail-elections:acr:password",
    "amr": ["pwd"],
    "nonce": "n-0S6_WzA2Mj",
    "sid": "c2lkLWZpY3RpZg",
}


@dataclass
class Floor:
    name: str
    per_second: float

    @property
    def micros(self) -> float:
        return 1e6 / self.per_second


def _rate(operation: Callable[[], object], seconds: float) -> float:
    operation()  # warm-up (first call allocates)
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        operation()
        count += 1
        if count % 8 == 0 and time.perf_counter() >= deadline:
            break
    return count / (time.perf_counter() - started)


def measure(seconds: float) -> list[Floor]:
    hasher = PasswordHasher(
        time_cost=DEFAULTS["ARGON2_TIME_COST"],
        memory_cost=DEFAULTS["ARGON2_MEMORY_COST"],
        parallelism=DEFAULTS["ARGON2_PARALLELISM"],
    )
    stored = hasher.hash("correct horse battery staple 42")
    es256, rs256 = generate("ES256"), generate("RS256")
    keyed = KeyedHasher("bench-hmac-key-not-a-secret-0123456789")
    argon = f"argon2id verify (t={DEFAULTS['ARGON2_TIME_COST']}, m={DEFAULTS['ARGON2_MEMORY_COST'] // 1024} MiB)"
    return [
        Floor(argon, _rate(lambda: hasher.verify(stored, "correct horse battery staple 42"), seconds)),
        Floor(
            "ES256 sign (joserfc, ID token)",
            _rate(lambda: jwt.encode({"alg": "ES256", "kid": es256.kid}, ID_TOKEN_CLAIMS, es256), seconds),
        ),
        Floor(
            "RS256 sign (joserfc, ID token)",
            _rate(lambda: jwt.encode({"alg": "RS256", "kid": rs256.kid}, ID_TOKEN_CLAIMS, rs256), seconds),
        ),
        Floor("HMAC-SHA256 (KeyedHasher.digest)", _rate(lambda: keyed.digest("numen", "12A3456789ABC"), seconds)),
    ]


def report(floors: list[Floor]) -> None:
    print("physical floor, one core (one thread):")
    for floor in floors:
        cost = f"{floor.micros / 1000:8.2f} ms" if floor.micros >= 1000 else f"{floor.micros:8.2f} µs"
        print(f"  {floor.name:<40} {floor.per_second:>12,.0f} /s  {cost} each")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per primitive (default 1)")
    args = parser.parse_args()
    report(measure(args.seconds))


if __name__ == "__main__":
    main()
