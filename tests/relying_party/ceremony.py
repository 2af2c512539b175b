"""A key ceremony run for the portal tests: the operator's side on the test database, each trustee's side with its
own private file in a folder of its own (argon2id at its cheapest: the tests are not about the passphrase's cost)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pysodium
from flask import Flask

from relying_party.ceremony import service
from relying_party.ceremony.trustee import KdfCost, confirm, keygen, make_shares
from relying_party.db import get_db
from relying_party.models import utcnow

PASSPHRASE = "phrase de passe fictive des tests"
#: libsodium's smallest argon2id cost (one pass over 8 KiB): 15 derivations a ceremony, under a millisecond each.
CHEAP = KdfCost(opslimit=1, memlimit=pysodium.crypto_pwhash_MEMLIMIT_MIN)
NAMES = ("Mme GARANTE Une", "M. GARANT Deux", "Mme GARANTE Trois")


@dataclass(frozen=True)
class TrusteeFiles:
    index: int
    key_file: Path


def _state(app: Flask, code: str, index: int) -> dict:
    with get_db(app).reader() as session:
        return service.export_state(session, service.find(session, code), index)


def _receive(app: Flask, document: dict) -> str:
    with get_db(app).transaction() as session:
        return service.receive(session, document, utcnow())


def run_ceremony(
    app: Flask,
    folder: Path,
    scrutins: tuple[str, ...],
    *,
    code: str = "CEREMONIE",
    threshold: int = 2,
    names: tuple[str, ...] = NAMES,
) -> list[TrusteeFiles]:
    with get_db(app).transaction() as session:
        service.create(session, code=code, label="Cérémonie de test", threshold=threshold, names=names, now=utcnow())
        ceremony = service.find(session, code)
        service.attach(session, ceremony, scrutins)
    trustees = []
    for index in range(1, len(names) + 1):
        (folder / f"garant-{index}").mkdir(parents=True, exist_ok=True)
        key_file = folder / f"garant-{index}" / "garant.key"
        _receive(app, keygen(_state(app, code, index), index, key_file, PASSPHRASE, CHEAP))
        trustees.append(TrusteeFiles(index, key_file))
    for trustee in trustees:
        _receive(app, make_shares(_state(app, code, trustee.index), trustee.key_file, PASSPHRASE, CHEAP)[0])
    for trustee in trustees:
        _receive(app, confirm(_state(app, code, trustee.index), trustee.key_file, PASSPHRASE, CHEAP)[0])
    return trustees
