"""The trustee's side of the key ceremony and of the tally, run on the trustee's own machine (``portal trustee …``).

Nothing here touches the portal's database: the trustee reads the files the operator hands over and writes files
back. The private part (the polynomial, then the share ``s_i``, and the box key that opens the shares) lives only
in the trustee's passphrase-protected file (:mod:`votecrypto.keyfile`). Every step checks what it is given before
it uses its secrets: the other trustees' proofs, that its own publication is the one the portal shows, each share
against its dealer's commitments, the partial decryption against the trustee's public share.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relying_party.ceremony import files
from relying_party.ceremony.files import CeremonyFileError
from relying_party.ceremony.recount import BoxSummary, RecountRefused, recount
from votecrypto import group as g
from votecrypto import keyfile
from votecrypto.proofs import ProofError
from votecrypto.sealed import BoxKeyPair, SealedError, open_share, seal_share
from votecrypto.threshold import (
    Polynomial,
    ThresholdError,
    check_share,
    combine_shares,
    partial_decrypt,
    prove_coefficients,
    public_share,
    verify_coefficients,
)


class TrusteeRefused(Exception):
    """The step was not done; the message (in French) says why. Nothing was written."""


@dataclass(frozen=True)
class KdfCost:
    opslimit: int = keyfile.DEFAULT_OPSLIMIT
    memlimit: int = keyfile.DEFAULT_MEMLIMIT


def _parameters(state: dict[str, Any]) -> tuple[dict[str, Any], bytes, int, int]:
    ceremony = state.get("ceremony")
    if not isinstance(ceremony, dict):
        raise TrusteeRefused("Fichier d'état sans cérémonie.")
    trustees = ceremony.get("trustees")
    threshold = ceremony.get("threshold")
    if not isinstance(trustees, list) or not isinstance(threshold, int):
        raise TrusteeRefused("Fichier d'état incomplet (garants, seuil).")
    return ceremony, files.hex_bytes(ceremony.get("id"), "ceremony.id"), threshold, len(trustees)


def _open(key_path: Path, passphrase: str, ceremony_id: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        header, secret = keyfile.read(key_path, passphrase)
    except keyfile.KeyFileError as exc:
        raise TrusteeRefused(str(exc)) from None
    if header.get("ceremony") != ceremony_id.hex():
        raise TrusteeRefused(f"{key_path} appartient à une autre cérémonie.")
    return header, secret


def keygen(
    state: dict[str, Any], index: int, key_path: Path, passphrase: str, cost: KdfCost = KdfCost()
) -> dict[str, Any]:
    """Round 1: draw the polynomial and the box key, keep them in the private file, publish the public part."""
    ceremony, ceremony_id, threshold, count = _parameters(state)
    if not 1 <= index <= count:
        raise TrusteeRefused(f"Numéro de garant invalide : {index} (1 à {count}).")
    if key_path.exists():
        raise TrusteeRefused(f"{key_path} existe déjà : il ne sera pas écrasé.")
    polynomial = Polynomial.random(threshold)
    box = BoxKeyPair.generate()
    header = {"ceremony": ceremony_id.hex(), "code": ceremony.get("code"), "index": index, "threshold": threshold}
    secret = {
        "box_public": box.public.hex(),
        "box_secret": box.secret.hex(),
        "coefficients": [c.hex() for c in polynomial.coefficients],
    }
    try:
        keyfile.write(key_path, header, secret, passphrase, opslimit=cost.opslimit, memlimit=cost.memlimit)
    except keyfile.KeyFileError as exc:
        raise TrusteeRefused(str(exc)) from None
    published = files.publication_json(
        index, box.public, polynomial.commitments(), prove_coefficients(ceremony_id, index, polynomial)
    )
    return {"type": "round1", "ceremony": ceremony_id.hex(), **published}


def _round1_set(
    state: dict[str, Any], ceremony_id: bytes, threshold: int, count: int
) -> dict[int, tuple[bytes, tuple[bytes, ...]]]:
    entries = state.get("round1")
    if not isinstance(entries, list) or len(entries) != count:
        raise TrusteeRefused(f"Les publications des {count} garants sont attendues dans le fichier d'état.")
    found: dict[int, tuple[bytes, tuple[bytes, ...]]] = {}
    for entry in entries:
        try:
            index, box_key, commitments, proofs = files.publication(entry, "round1", threshold)
            verify_coefficients(ceremony_id, index, commitments, proofs)
        except (CeremonyFileError, ProofError, ThresholdError) as exc:
            raise TrusteeRefused(f"Publication d'un garant refusée : {exc}") from None
        found[index] = (box_key, commitments)
    if sorted(found) != list(range(1, count + 1)):
        raise TrusteeRefused("Les publications ne couvrent pas tous les garants.")
    return found


def make_shares(
    state: dict[str, Any], key_path: Path, passphrase: str, cost: KdfCost = KdfCost()
) -> tuple[dict[str, Any], bytes]:
    """Round 2: check every publication, seal ``f(j)`` for every other trustee; returns the file and the digest."""
    ceremony, ceremony_id, threshold, count = _parameters(state)
    header, secret = _open(key_path, passphrase, ceremony_id)
    index = int(header["index"])
    if "coefficients" not in secret:
        raise TrusteeRefused("Ce fichier de clé a déjà terminé la cérémonie.")
    polynomial = Polynomial(tuple(bytes.fromhex(c) for c in secret["coefficients"]))
    published = _round1_set(state, ceremony_id, threshold, count)
    if published[index] != (bytes.fromhex(secret["box_public"]), polynomial.commitments()):
        raise TrusteeRefused(
            "Le portail présente pour vous une publication qui n'est pas la vôtre : arrêtez la cérémonie."
        )
    digest = files.transcript(ceremony, state["round1"])
    shares = [
        {"recipient": j, "sealed": seal_share(ceremony_id, index, j, polynomial.at(j), box_key).hex()}
        for j, (box_key, _) in sorted(published.items())
        if j != index
    ]
    secret["own_share"] = polynomial.at(index).hex()
    secret["transcript"] = digest.hex()
    keyfile.write(key_path, header, secret, passphrase, opslimit=cost.opslimit, memlimit=cost.memlimit)
    return {
        "type": "round2",
        "ceremony": ceremony_id.hex(),
        "index": index,
        "transcript": digest.hex(),
        "shares": shares,
    }, digest


def confirm(
    state: dict[str, Any], key_path: Path, passphrase: str, cost: KdfCost = KdfCost()
) -> tuple[dict[str, Any], bytes]:
    """Round 3: open and check the share of every other trustee, keep ``s_i`` (and forget the polynomial)."""
    ceremony, ceremony_id, threshold, count = _parameters(state)
    header, secret = _open(key_path, passphrase, ceremony_id)
    index = int(header["index"])
    if "own_share" not in secret:
        raise TrusteeRefused("Envoyez d'abord vos parts (portal trustee shares).")
    published = _round1_set(state, ceremony_id, threshold, count)
    digest = files.transcript(ceremony, state["round1"])
    if digest.hex() != secret["transcript"]:
        raise TrusteeRefused("Les publications ont changé depuis l'envoi de vos parts : arrêtez la cérémonie.")
    if state.get("for_trustee") != index:
        raise TrusteeRefused(f"Ce fichier d'état a été préparé pour le garant n° {state.get('for_trustee')}.")
    received = {s.get("dealer"): s.get("sealed") for s in state.get("shares", []) if isinstance(s, dict)}
    box = BoxKeyPair(bytes.fromhex(secret["box_public"]), bytes.fromhex(secret["box_secret"]))
    shares = [bytes.fromhex(secret["own_share"])]
    for dealer, (_, commitments) in sorted(published.items()):
        if dealer == index:
            continue
        if dealer not in received:
            raise TrusteeRefused(f"La part du garant n° {dealer} manque dans le fichier d'état.")
        try:
            share = open_share(ceremony_id, dealer, index, files.hex_bytes(received[dealer], "sealed", None), box)
            check_share(share, commitments, index)
        except (SealedError, ThresholdError, CeremonyFileError) as exc:
            raise TrusteeRefused(
                f"La part du garant n° {dealer} est invalide ({exc}) : la cérémonie est à recommencer."
            ) from None
        shares.append(share)
    share = combine_shares(shares)
    public = g.mul_base(share)
    if public != public_share([c for _, c in (published[i] for i in sorted(published))], index):
        raise TrusteeRefused("Votre part ne correspond pas aux engagements publiés.")
    kept = {"share": share.hex(), "public_share": public.hex(), "transcript": digest.hex()}
    keyfile.write(
        key_path, {**header, "completed": True}, kept, passphrase, opslimit=cost.opslimit, memlimit=cost.memlimit
    )
    return {
        "type": "round3",
        "ceremony": ceremony_id.hex(),
        "index": index,
        "transcript": digest.hex(),
        "public_share": public.hex(),
    }, digest


def decrypt(
    request: dict[str, Any], key_path: Path, passphrase: str, record: Iterable[bytes]
) -> tuple[dict[str, Any], BoxSummary]:
    """The tally: the trustee's partial decryption of each option's aggregate, with its proofs.

    Nothing is decrypted unless the aggregate is the sum of the ballots of ``record`` (the election record's lines,
    as ``portal election record`` writes them once the aggregate is computed): :mod:`relying_party.ceremony.recount`.
    Returns the partial decryption and what the trustee compares with the public board.
    """
    ceremony_id = files.hex_bytes(request.get("ceremony"), "ceremony")
    header, secret = _open(key_path, passphrase, ceremony_id)
    if "share" not in secret:
        raise TrusteeRefused("Ce fichier de clé n'a pas terminé la cérémonie.")
    election = files.hex_bytes(request.get("election"), "election")
    aggregate = request.get("aggregate")
    if not isinstance(aggregate, list) or not aggregate:
        raise TrusteeRefused("Demande de déchiffrement sans agrégat.")
    alphas = [
        files.point(item.get("alpha") if isinstance(item, dict) else None, "aggregate.alpha") for item in aggregate
    ]
    try:
        summary = recount(request, record)
    except RecountRefused as exc:
        raise TrusteeRefused(str(exc)) from None
    index = int(header["index"])
    partial = partial_decrypt(election, index, bytes.fromhex(secret["share"]), alphas)
    return {
        "type": "partial-decryption",
        "ceremony": ceremony_id.hex(),
        "scrutin": request.get("scrutin"),
        "election": election.hex(),
        "trustee": index,
        "shares": [
            {"share": d.hex(), "c": p.challenge.hex(), "z": p.response.hex()}
            for d, p in zip(partial.shares, partial.proofs, strict=True)
        ],
    }, summary
