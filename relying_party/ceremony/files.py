"""The files the operator and the trustees exchange during the key ceremony and the tally.

Every file is JSON with ``format`` (this module's :data:`FORMAT`) and ``type``:

- ``state`` (operator → trustee, ``portal ceremony export``): the ceremony's parameters, the round-1 publications
  received so far, and the sealed shares addressed to that trustee;
- ``round1`` (trustee → operator, ``portal trustee keygen``): box key, commitments, proofs of knowledge;
- ``round2`` (``portal trustee shares``): the digest of the round-1 set the trustee saw and one sealed share per
  other trustee;
- ``round3`` (``portal trustee confirm``): the same digest and the trustee's public share, once every received
  share checked out;
- ``decryption-request`` (``portal election tally --request``) and ``partial-decryption``
  (``portal trustee decrypt``): see :mod:`relying_party.elections.tally`.

Hex strings are lowercase. Files carry only public values and sealed shares: they may travel by e-mail or USB key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from votecrypto import group as g
from votecrypto.election import canonical_json
from votecrypto.proofs import Schnorr

FORMAT = "portail-elections/ceremony/1"


class CeremonyFileError(ValueError):
    """A file that is not what the command expects (message in French, for the operator or the trustee)."""


def write(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps({"format": FORMAT, **document}, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read(path: Path, *types: str) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CeremonyFileError(f"{path} : fichier illisible ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CeremonyFileError(f"{path} : ce n'est pas un fichier de cérémonie ({FORMAT})")
    if types and document.get("type") not in types:
        raise CeremonyFileError(
            f"{path} : fichier de type « {document.get('type')} », « {' ou '.join(types)} » attendu"
        )
    return document


def hex_bytes(value: Any, where: str, length: int | None = 32) -> bytes:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) and value == value.lower() else None
    except ValueError:
        raw = None
    if raw is None or (length is not None and len(raw) != length):
        raise CeremonyFileError(f"{where} : valeur hexadécimale de {length} octets attendue")
    return raw


def point(value: Any, where: str) -> bytes:
    raw = hex_bytes(value, where)
    if not g.is_point(raw):
        raise CeremonyFileError(f"{where} : ce n'est pas un point du groupe")
    return raw


def scalar(value: Any, where: str) -> bytes:
    raw = hex_bytes(value, where)
    if not g.is_scalar(raw):
        raise CeremonyFileError(f"{where} : ce n'est pas un scalaire canonique")
    return raw


def publication(entry: Any, where: str, threshold: int) -> tuple[int, bytes, tuple[bytes, ...], tuple[Schnorr, ...]]:
    """A round-1 entry: (index, box key, commitments, proofs), with exactly ``threshold`` commitments."""
    if not isinstance(entry, dict):
        raise CeremonyFileError(f"{where} : objet attendu")
    index = entry.get("index")
    commitments, proofs = entry.get("commitments"), entry.get("proofs")
    if not isinstance(index, int) or not isinstance(commitments, list) or not isinstance(proofs, list):
        raise CeremonyFileError(f"{where} : index, commitments et proofs attendus")
    if len(commitments) != threshold or len(proofs) != threshold:
        raise CeremonyFileError(f"{where} : {threshold} engagements et preuves attendus (le seuil)")
    return (
        index,
        hex_bytes(entry.get("box_key"), f"{where}.box_key"),
        tuple(point(c, f"{where}.commitments") for c in commitments),
        tuple(_schnorr(p, f"{where}.proofs") for p in proofs),
    )


def _schnorr(value: Any, where: str) -> Schnorr:
    if not isinstance(value, dict):
        raise CeremonyFileError(f"{where} : objet {{c, z}} attendu")
    return Schnorr(scalar(value.get("c"), where), scalar(value.get("z"), where))


def publication_json(
    index: int, box_key: bytes, commitments: tuple[bytes, ...], proofs: tuple[Schnorr, ...]
) -> dict[str, Any]:
    return {
        "box_key": box_key.hex(),
        "commitments": [c.hex() for c in commitments],
        "index": index,
        "proofs": [{"c": p.challenge.hex(), "z": p.response.hex()} for p in proofs],
    }


def transcript(ceremony: dict[str, Any], round1: list[dict[str, Any]]) -> bytes:
    """The digest of the ceremony's parameters and every round-1 publication, which all trustees must see alike.

    Each trustee's command prints it; the trustees compare it out of band (aloud, at the bureau de vote): a portal
    that showed them different sets (to slip its own box key in for someone's) is caught there.
    """
    body = {"ceremony": ceremony, "round1": sorted(round1, key=lambda entry: int(entry["index"]))}
    return hashlib.sha256(g.DOMAIN + b"ceremony\x00" + canonical_json(body)).digest()


def fingerprint(digest: bytes) -> str:
    """A digest as people read it aloud: 16 groups of 4 hex digits."""
    text = digest.hex()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))
