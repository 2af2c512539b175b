"""The portal's side of the key ceremony: create it, hand each trustee what it needs, check and keep what they send.

The portal is a post office that cannot read the mail: it stores the trustees' public values and the shares they
seal to each other, checks every proof and every digest before it keeps anything, and computes the election key
once every trustee has confirmed. Functions take the caller's session and never commit (the caller commits once, so
a received file and its audit event are written together or not at all).

Rounds: 1. every trustee publishes (``round1``); 2. once all have, each trustee seals a share for every other one
(``round2``); 3. once all have, each trustee opens and checks its shares and confirms (``round3``). The election
key exists when the n confirmations are in.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from relying_party.audit import record
from relying_party.ceremony import files
from relying_party.ceremony.files import CeremonyFileError
from relying_party.models import Ballot, KeyCeremony, Scrutin, SealedShare, Trustee
from votecrypto.election import Manifest, TrusteePublic
from votecrypto.proofs import ProofError, Schnorr
from votecrypto.threshold import ThresholdError, election_key, public_share, verify_coefficients

MAX_TRUSTEES = 30
SEALED_BYTES = 32 + 4 + 4 + 32 + 48


class CeremonyRefused(Exception):
    """Nothing was changed; the message says why, in French, for the operator."""


def find(session: Session, code: str) -> KeyCeremony:
    ceremony = session.execute(select(KeyCeremony).where(KeyCeremony.code == code)).scalar_one_or_none()
    if ceremony is None:
        raise CeremonyRefused(f"Cérémonie inconnue : {code}")
    return ceremony


def create(
    session: Session, *, code: str, label: str, threshold: int, names: Sequence[str], now: dt.datetime
) -> KeyCeremony:
    if not 1 <= len(names) <= MAX_TRUSTEES:
        raise CeremonyRefused(f"Il faut de 1 à {MAX_TRUSTEES} garants.")
    if not 1 <= threshold <= len(names):
        raise CeremonyRefused(f"Le seuil doit être compris entre 1 et le nombre de garants ({len(names)}).")
    if session.execute(select(KeyCeremony.id).where(KeyCeremony.code == code)).first() is not None:
        raise CeremonyRefused(f"La cérémonie {code} existe déjà.")
    ceremony = KeyCeremony(
        code=code,
        label=label,
        uid=secrets.token_bytes(32),
        threshold=threshold,
        trustee_count=len(names),
        created_at=now,
        trustees=[Trustee(position=i, name=name) for i, name in enumerate(names, start=1)],
    )
    session.add(ceremony)
    session.flush()
    record(session, "ceremony.created", ceremony=code, trustees=len(names), threshold=threshold)
    return ceremony


def attach(session: Session, ceremony: KeyCeremony, scrutin_codes: Sequence[str]) -> None:
    """Encrypt these scrutins' ballots to this ceremony's key (refused once a scrutin has ballots)."""
    for code in scrutin_codes:
        scrutin = session.execute(select(Scrutin).where(Scrutin.code == code)).scalar_one_or_none()
        if scrutin is None:
            raise CeremonyRefused(f"Scrutin inconnu : {code}")
        has_ballots = session.execute(
            select(func.count()).select_from(Ballot).where(Ballot.scrutin_id == scrutin.id)
        ).scalar_one()
        if has_ballots and scrutin.key_ceremony_id != ceremony.id:
            raise CeremonyRefused(f"Le scrutin {code} a déjà des bulletins : sa clé ne peut plus changer.")
        scrutin.key_ceremony_id = ceremony.id
    record(session, "ceremony.attached", ceremony=ceremony.code, scrutins=list(scrutin_codes))


def parameters(ceremony: KeyCeremony) -> dict[str, Any]:
    """What identifies the ceremony in every file and in the transcript."""
    return {
        "code": ceremony.code,
        "id": ceremony.uid.hex(),
        "label": ceremony.label,
        "threshold": ceremony.threshold,
        "trustees": [{"index": t.position, "name": t.name} for t in ceremony.trustees],
    }


def _publications(ceremony: KeyCeremony) -> list[dict[str, Any]]:
    return [
        files.publication_json(t.position, t.box_key, _points(t.commitments), _proofs(t.proofs))
        for t in ceremony.trustees
        if t.box_key is not None and t.commitments is not None and t.proofs is not None
    ]


def _points(raw: bytes | None) -> tuple[bytes, ...]:
    raw = raw or b""
    return tuple(raw[i : i + 32] for i in range(0, len(raw), 32))


def _proofs(raw: bytes | None) -> tuple[Schnorr, ...]:
    raw = raw or b""
    return tuple(Schnorr(raw[i : i + 32], raw[i + 32 : i + 64]) for i in range(0, len(raw), 64))


def transcript(ceremony: KeyCeremony) -> bytes:
    return files.transcript(parameters(ceremony), _publications(ceremony))


def export_state(session: Session, ceremony: KeyCeremony, trustee: int) -> dict[str, Any]:
    _trustee(ceremony, trustee)
    shares = session.execute(
        select(SealedShare.dealer, SealedShare.sealed)
        .where(SealedShare.ceremony_id == ceremony.id, SealedShare.recipient == trustee)
        .order_by(SealedShare.dealer)
    ).all()
    return {
        "type": "state",
        "ceremony": parameters(ceremony),
        "for_trustee": trustee,
        "round1": _publications(ceremony),
        "shares": [{"dealer": dealer, "sealed": sealed.hex()} for dealer, sealed in shares],
    }


def _trustee(ceremony: KeyCeremony, index: Any) -> Trustee:
    for trustee in ceremony.trustees:
        if trustee.position == index:
            return trustee
    raise CeremonyRefused(f"La cérémonie {ceremony.code} n'a pas de garant n° {index}.")


def receive(session: Session, document: dict[str, Any], now: dt.datetime) -> str:
    """Check and keep a trustee's file; returns what was done (in French)."""
    ceremony_id = files.hex_bytes(document.get("ceremony"), "ceremony")
    ceremony = session.execute(select(KeyCeremony).where(KeyCeremony.uid == ceremony_id)).scalar_one_or_none()
    if ceremony is None:
        raise CeremonyRefused("Ce fichier appartient à une cérémonie inconnue de ce portail.")
    if ceremony.completed_at is not None:
        raise CeremonyRefused(f"La cérémonie {ceremony.code} est terminée : la clé de l'élection est fixée.")
    trustee = _trustee(ceremony, document.get("index"))
    kind = document.get("type")
    try:
        if kind == "round1":
            message = _round1(ceremony, trustee, document)
        elif kind == "round2":
            message = _round2(session, ceremony, trustee, document)
        elif kind == "round3":
            message = _round3(ceremony, trustee, document, now)
        else:
            raise CeremonyRefused(f"Type de fichier inattendu : {kind}")
    except (CeremonyFileError, ProofError, ThresholdError) as exc:
        raise CeremonyRefused(f"Fichier du garant n° {trustee.position} refusé : {exc}") from None
    record(session, "ceremony.received", ceremony=ceremony.code, trustee=trustee.position, round=str(kind))
    if kind == "round3" and all(t.confirmed_at is not None for t in ceremony.trustees):
        ceremony.public_key = election_key([_points(t.commitments) for t in ceremony.trustees])
        ceremony.completed_at = now
        record(session, "ceremony.completed", ceremony=ceremony.code, public_key=ceremony.public_key.hex())
        message += f"\nCérémonie terminée : clé de l'élection {ceremony.public_key.hex()}"
    return message


def _round1(ceremony: KeyCeremony, trustee: Trustee, document: dict[str, Any]) -> str:
    index, box_key, commitments, proofs = files.publication(document, "round1", ceremony.threshold)
    if trustee.commitments is not None:
        if (box_key, b"".join(commitments)) == (trustee.box_key, trustee.commitments):
            return f"Garant n° {index} : publication déjà reçue (identique)."
        raise CeremonyRefused(f"Le garant n° {index} a déjà publié d'autres valeurs : la cérémonie est à recommencer.")
    verify_coefficients(ceremony.uid, index, commitments, proofs)
    trustee.box_key = box_key
    trustee.commitments = b"".join(commitments)
    trustee.proofs = b"".join(p.challenge + p.response for p in proofs)
    missing = [t.position for t in ceremony.trustees if t.commitments is None]
    return f"Garant n° {index} : publication vérifiée et enregistrée." + (
        f" En attente des garants {', '.join(map(str, missing))}." if missing else " Tous les garants ont publié."
    )


def _round2(session: Session, ceremony: KeyCeremony, trustee: Trustee, document: dict[str, Any]) -> str:
    if any(t.commitments is None for t in ceremony.trustees):
        raise CeremonyRefused("Tous les garants doivent d'abord avoir publié (tour 1).")
    if files.hex_bytes(document.get("transcript"), "transcript") != transcript(ceremony):
        raise CeremonyRefused(
            f"Le garant n° {trustee.position} n'a pas vu les mêmes publications que le portail : "
            "la cérémonie est à recommencer."
        )
    shares = document.get("shares")
    expected = {t.position for t in ceremony.trustees if t.position != trustee.position}
    if (
        not isinstance(shares, list)
        or {s.get("recipient") for s in shares if isinstance(s, dict)} != expected
        or len(shares) != len(expected)
    ):
        raise CeremonyRefused(f"Une part scellée par destinataire attendue ({len(expected)}).")
    existing = session.execute(
        select(func.count())
        .select_from(SealedShare)
        .where(SealedShare.ceremony_id == ceremony.id, SealedShare.dealer == trustee.position)
    ).scalar_one()
    if existing:
        return f"Garant n° {trustee.position} : parts déjà reçues."
    for share in shares:
        sealed = files.hex_bytes(share.get("sealed"), "shares.sealed", SEALED_BYTES)
        session.add(
            SealedShare(ceremony_id=ceremony.id, dealer=trustee.position, recipient=share["recipient"], sealed=sealed)
        )
    trustee.transcript = transcript(ceremony)
    return f"Garant n° {trustee.position} : {len(shares)} part(s) scellée(s) enregistrée(s)."


def _round3(ceremony: KeyCeremony, trustee: Trustee, document: dict[str, Any], now: dt.datetime) -> str:
    if any(t.transcript is None for t in ceremony.trustees):
        raise CeremonyRefused("Tous les garants doivent d'abord avoir envoyé leurs parts (tour 2).")
    if files.hex_bytes(document.get("transcript"), "transcript") != transcript(ceremony):
        raise CeremonyRefused(f"Le garant n° {trustee.position} n'a pas vu les mêmes publications que le portail.")
    expected = public_share([_points(t.commitments) for t in ceremony.trustees], trustee.position)
    if files.point(document.get("public_share"), "public_share") != expected:
        raise CeremonyRefused(f"La part publique du garant n° {trustee.position} ne correspond pas aux engagements.")
    trustee.public_share = expected
    trustee.confirmed_at = trustee.confirmed_at or now
    return f"Garant n° {trustee.position} : parts vérifiées, confirmation enregistrée."


def status(session: Session, ceremony: KeyCeremony) -> list[str]:
    scrutins = (
        session.execute(select(Scrutin.code).where(Scrutin.key_ceremony_id == ceremony.id).order_by(Scrutin.code))
        .scalars()
        .all()
    )
    lines = [
        f"Cérémonie {ceremony.code} — {ceremony.label}",
        f"Seuil : {ceremony.threshold} garants sur {ceremony.trustee_count}",
        f"Scrutins : {', '.join(scrutins) or 'aucun'}",
    ]
    for t in ceremony.trustees:
        state = (
            "confirmé"
            if t.confirmed_at
            else "parts envoyées"
            if t.transcript
            else "publié"
            if t.commitments
            else "en attente"
        )
        lines.append(f"  {t.position}. {t.name} : {state}")
    if all(t.commitments for t in ceremony.trustees):
        lines.append(
            f"Empreinte des publications (à comparer par les garants) : {files.fingerprint(transcript(ceremony))}"
        )
    if ceremony.public_key is not None:
        lines.append(f"Clé de l'élection : {ceremony.public_key.hex()}")
    else:
        lines.append("Clé de l'élection : pas encore générée (aucun scrutin rattaché ne peut ouvrir).")
    return lines


def manifest(session: Session, scrutin: Scrutin) -> Manifest | None:
    """The election manifest of ``scrutin``, or None while it has no complete key ceremony (no vote then)."""
    if scrutin.key_ceremony_id is None:
        return None
    ceremony = session.get(KeyCeremony, scrutin.key_ceremony_id)
    if ceremony is None or ceremony.public_key is None:
        return None
    return Manifest(
        scrutin_code=scrutin.code,
        scrutin_label=scrutin.label,
        lists=tuple((lst.position, lst.display_name) for lst in scrutin.lists),
        ceremony_id=ceremony.uid,
        ceremony_label=ceremony.label,
        threshold=ceremony.threshold,
        trustees=tuple(
            TrusteePublic(t.position, t.name, _points(t.commitments), _proofs(t.proofs)) for t in ceremony.trustees
        ),
        public_key=ceremony.public_key,
        version=scrutin.manifest_version,
    )
