"""Creating, listing, resetting and removing auditor accounts (``idp auditors``), free of the command line.

An auditor is a row of the accounts table with ``role`` "auditor" and no civil identity (see
:mod:`idp.models.voter`). It signs in through the same screens as a voter: on its first sign-in it asks for the
activation link, which goes to its address, and chooses its password and question défi. Every change is an
administrative action, audited with the account's pseudonymous subject (never its address).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp import validation
from idp.audit import record
from idp.models import Voter
from idp.models.voter import ROLE_AUDITOR


class AuditorError(ValueError):
    """An operator's request that cannot be carried out (the message says why, in French)."""


def split_name(name: str, family_name: str | None = None) -> tuple[str, str]:
    """(given names, family name) of ``--name "Prénom Nom"``: the family name is the last word, unless
    ``family_name`` says which words it is (a family name of several words)."""
    full = " ".join(name.split())
    if family_name is not None:
        family = " ".join(family_name.split())
        if not family or not full.endswith(" " + family):
            raise AuditorError("--family-name doit être la fin de --name, après le ou les prénoms")
        given = full[: -len(family) - 1]
    else:
        given, _, family = full.rpartition(" ")
    if not given or not family:
        raise AuditorError("--name doit donner le ou les prénoms puis le nom, par exemple « Camille Durand »")
    try:
        return (
            validation.normalise_name(given, label="prénoms", max_length=300),
            validation.normalise_name(family, label="nom de famille", max_length=200),
        )
    except validation.InvalidValue as exc:
        raise AuditorError(str(exc)) from None


def _identifier(raw: str) -> str:
    try:
        return validation.normalise_identifier(raw)
    except validation.InvalidValue as exc:
        raise AuditorError(str(exc)) from None


def find_account(session: Session, identifier: str) -> Voter | None:
    return session.execute(select(Voter).where(Voter.identifier == _identifier(identifier))).scalar_one_or_none()


def _auditor(session: Session, identifier: str) -> Voter:
    account = find_account(session, identifier)
    if account is None:
        raise AuditorError(f"aucun compte {_identifier(identifier)}")
    if not account.is_auditor:
        raise AuditorError(f"{account.identifier} est un compte électeur, pas un compte auditeur")
    return account


def add_auditor(session: Session, identifier: str, name: str, *, family_name: str | None = None) -> Voter:
    """Create an auditor account, not activated (in ``session``'s transaction, flushed)."""
    address = _identifier(identifier)
    given, family = split_name(name, family_name)
    existing = find_account(session, address)
    if existing is not None:
        kind = "auditeur" if existing.is_auditor else "électeur"
        # Voting and auditing stay apart: a voter who also audits needs a second address.
        raise AuditorError(f"{address} est déjà un compte {kind}")
    account = Voter(identifier=address, role=ROLE_AUDITOR, first_names=given, family_name=family)
    session.add(account)
    session.flush()
    record(session, "auditor.added", subject=account.subject)
    return account


def list_auditors(session: Session) -> list[Voter]:
    return list(session.execute(select(Voter).where(Voter.role == ROLE_AUDITOR).order_by(Voter.identifier)).scalars())


def reset_auditor(session: Session, identifier: str) -> Voter:
    """Forget the auditor's password and question défi and end its sessions: its next sign-in asks for a new
    activation link (an auditor has no NUMEN or NIR, so the voters' réassort cannot serve it)."""
    account = _auditor(session, identifier)
    session.execute(
        update(Voter)
        .where(Voter.id == account.id)
        .values(
            password_hash=None,
            challenge_question=None,
            challenge_answer_hash=None,
            activated_at=None,
            session_epoch=Voter.session_epoch + 1,
        )
        .execution_options(synchronize_session=False)
    )
    session.expire(account)
    record(session, "auditor.reset", subject=account.subject)
    return account


def remove_auditor(session: Session, identifier: str) -> str:
    """Delete the auditor account (its sessions end, its tokens go with it); returns its subject, which the audit
    log keeps naming."""
    account = _auditor(session, identifier)
    subject = account.subject
    session.delete(account)
    session.flush()
    record(session, "auditor.removed", subject=subject)
    return subject
