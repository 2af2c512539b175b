"""The demo's key ceremony — FOR DEMONSTRATION ONLY.

A real ceremony has each trustee on their own machine with a passphrase only they know (docs: operators, "Key
ceremony"). Here the three fictitious trustees' steps run in one process, their private files go to the demo's
``instance/demo-garants/`` with a passphrase printed on screen, so that anyone trying the demo can also play the
trustees at the tally (``portal trustee decrypt``). Nothing about this is secret.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select

from relying_party.ceremony import service
from relying_party.ceremony.trustee import KdfCost, confirm, keygen, make_shares
from relying_party.db import Database
from relying_party.models import KeyCeremony

CODE = "DEMO"
LABEL = "Démonstration — clés fictives, ne pas utiliser pour un vrai scrutin"
PASSPHRASE = "demo: garant fictif, jamais pour un vrai scrutin"  # noqa: S105 - printed on purpose, demo only
TRUSTEES = ("Mme GARANTE Alice (fictive)", "M. GARANT Bruno (fictif)", "Mme GARANTE Chloé (fictive)")
THRESHOLD = 2
CHEAP = KdfCost(opslimit=2, memlimit=32 * 1024 * 1024)
#: For trustees' files thrown away as soon as the ceremony is over (the benchmarks'): libsodium's cheapest passes.
THROWAWAY = KdfCost(opslimit=1, memlimit=8 * 1024 * 1024)


def key_file(folder: Path, index: int) -> Path:
    return folder / f"garant-{index}.key"


def ensure_demo_ceremony(
    database: Database, folder: Path, scrutins: Sequence[str], now: dt.datetime, cost: KdfCost = CHEAP
) -> str:
    """Run the ceremony once (trustees' files in ``folder``, their keys derived at ``cost``), attach ``scrutins``;
    returns what was done."""
    with database.reader() as session:
        existing = session.execute(select(KeyCeremony).where(KeyCeremony.code == CODE)).scalar_one_or_none()
        complete = existing is not None and existing.public_key is not None
        session.rollback()
    if existing is not None and not complete:
        raise service.CeremonyRefused(
            "La cérémonie de démonstration est inachevée (démarrage interrompu) : supprimez instance/ et relancez."
        )
    if existing is None:
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(1, len(TRUSTEES) + 1):
            key_file(folder, index).unlink(missing_ok=True)
        with database.transaction() as session:
            service.create(session, code=CODE, label=LABEL, threshold=THRESHOLD, names=TRUSTEES, now=now)
        for step in ("keygen", "shares", "confirm"):
            for index in range(1, len(TRUSTEES) + 1):
                with database.reader() as session:
                    state = service.export_state(session, service.find(session, CODE), index)
                    session.rollback()
                path = key_file(folder, index)
                if step == "keygen":
                    document = keygen(state, index, path, PASSPHRASE, cost)
                elif step == "shares":
                    document = make_shares(state, path, PASSPHRASE, cost)[0]
                else:
                    document = confirm(state, path, PASSPHRASE, cost)[0]
                with database.transaction() as session:
                    service.receive(session, document, now)
    with database.transaction() as session:
        service.attach(session, service.find(session, CODE), scrutins)
    return (
        f"Garants de démonstration (clés fictives, jamais pour un vrai scrutin) : {THRESHOLD} sur {len(TRUSTEES)}, "
        f"fichiers {folder}/garant-N.key, phrase de passe « {PASSPHRASE} »"
    )
