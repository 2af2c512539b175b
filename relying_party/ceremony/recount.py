"""What a trustee checks before decrypting anything: that the aggregate the portal asks them to decrypt is the sum of
the ballot box the portal publishes, recomputed from the election record on the trustee's own machine.

Without it, a portal (or whoever controls it) could hand the trustees one voter's ciphertext as "the aggregate", and
k honest trustees would decrypt that voter's choice. With it, what is decrypted is the sum of every ballot in the
record, each identified by its tracking code (recomputed here from its ciphertexts, in strictly increasing order, so
none appears twice). The remaining attack is a record that is not the real box — a few real ballots among ballots
the portal made itself: the number of ballots and the box's fingerprint this check prints are what the trustees
compare with the public board (its count, and voters' receipts found there) and with each other before they decrypt.

Proofs are not checked here (a 500,000-ballot box would take the trustee about half an hour of one core); they do
not bear on what is decrypted, and ``tools/verify_election_record.py`` checks every one of them on the same file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from votecrypto import group as g
from votecrypto.aggregate import CiphertextSums
from votecrypto.ballot import tracking_code
from votecrypto.election import election_hash


class RecountRefused(ValueError):
    """The record does not support the request (message in French, for the trustee)."""


@dataclass(frozen=True)
class BoxSummary:
    ballots: int
    emargements: int
    #: SHA-256 over the domain and the tracking codes in order: the same for every trustee given the same box.
    fingerprint: bytes


def _json(line: bytes, number: int) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except ValueError:
        raise RecountRefused(f"Dossier de l'élection illisible (ligne {number}).") from None
    if not isinstance(item, dict):
        raise RecountRefused(f"Dossier de l'élection illisible (ligne {number}).")
    return item


def _ciphertexts(ballot: Any, number: int) -> bytes:
    try:
        return b"".join(bytes.fromhex(c["alpha"]) + bytes.fromhex(c["beta"]) for c in ballot["choices"])
    except (KeyError, TypeError, ValueError):
        raise RecountRefused(f"Bulletin illisible dans le dossier (ligne {number}).") from None


def recount(request: dict[str, Any], record: Iterable[bytes]) -> BoxSummary:
    """Check ``request`` (a ``decryption-request``) against the record's lines; return what to compare and show."""
    lines = iter(record)
    first = _json(next(lines, b"null"), 1)
    manifest = first.get("manifest")
    election_hex = request.get("election")
    if first.get("type") != "election" or not isinstance(manifest, dict):
        raise RecountRefused("Le dossier ne commence pas par l'élection.")
    if first.get("election_hash") != election_hex or election_hash(manifest).hex() != election_hex:
        raise RecountRefused("Le dossier concerne une autre élection que la demande de déchiffrement.")
    ceremony = manifest.get("ceremony")
    if not isinstance(ceremony, dict) or ceremony.get("id") != request.get("ceremony"):
        raise RecountRefused("Le dossier concerne une autre cérémonie que la demande de déchiffrement.")
    options = manifest.get("options")
    if not isinstance(options, list) or len(options) < 2:
        raise RecountRefused("Le dossier n'a pas d'options de vote.")
    election = bytes.fromhex(str(election_hex))
    sums = CiphertextSums(len(options))
    fingerprint = hashlib.sha256(g.DOMAIN + b"box\x00")
    previous = b""
    stated: dict[str, Any] | None = None
    for number, line in enumerate(lines, start=2):
        item = _json(line, number)
        if item.get("type") != "ballot":
            stated = item if item.get("type") == "aggregate" else None
            break
        ballot = item.get("ballot")
        if not isinstance(ballot, dict) or ballot.get("election") != election_hex:
            raise RecountRefused(f"Le bulletin de la ligne {number} appartient à une autre élection.")
        raw = _ciphertexts(ballot, number)
        code = tracking_code(election, raw)
        if item.get("tracking_code") != code.hex():
            raise RecountRefused(f"Le code de suivi de la ligne {number} ne correspond pas à son bulletin.")
        if code <= previous:
            raise RecountRefused(f"Les bulletins ne sont pas rangés par code de suivi (ligne {number}) : un doublon ?")
        try:
            sums.add(raw)
        except g.GroupError:
            raise RecountRefused(f"Le bulletin de la ligne {number} n'est pas un chiffré valide.") from None
        previous = code
        fingerprint.update(code)
    if stated is None:
        raise RecountRefused("Le dossier n'a pas d'agrégat après ses bulletins.")
    recomputed = [{"alpha": a.hex(), "beta": b.hex()} for a, b in sums.sums()]
    if stated.get("choices") != recomputed or stated.get("ballots") != sums.count:
        raise RecountRefused("L'agrégat du dossier n'est pas la somme de ses bulletins.")
    if request.get("aggregate") != recomputed or request.get("ballots") != sums.count:
        raise RecountRefused(
            "La demande de déchiffrement ne porte pas sur la somme des bulletins de l'urne publiée : "
            "ne la déchiffrez pas, et signalez-le au bureau de vote."
        )
    emargements = stated.get("emargements")
    return BoxSummary(sums.count, emargements if isinstance(emargements, int) else -1, fingerprint.digest())
