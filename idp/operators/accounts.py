"""Creating, listing, resetting and removing operator accounts (``idp operators``), free of the command line.

An operator is a row of the accounts table with ``role`` "operator" and no civil identity (see
:mod:`idp.models.voter`), like an auditor: it signs in through the same screens, asks for its activation link on its
first sign-in and chooses its password and question défi. Operators and auditors are kept apart: one address, one
role. Every change is an administrative action, audited with the account's pseudonymous subject (never its address).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp import validation
from idp.audit import record
from idp.auditors.accounts import AuditorError, find_account, split_name
from idp.models import Voter
from idp.models.voter import ROLE_AUDITOR, ROLE_OPERATOR, ROLE_VOTER

#: The French name of each role, for the messages.
ROLE_NAMES = {ROLE_VOTER: "électeur", ROLE_AUDITOR: "auditeur", ROLE_OPERATOR: "opérateur"}


class OperatorError(AuditorError):
    """An operator's request that cannot be carried out (the message says why, in French)."""


def _identifier(raw: str) -> str:
    try:
        return validation.normalise_identifier(raw)
    except validation.InvalidValue as exc:
        raise OperatorError(str(exc)) from None


def _operator(session: Session, identifier: str) -> Voter:
    address = _identifier(identifier)
    account = find_account(session, address)
    if account is None:
        raise OperatorError(f"aucun compte {address}")
    if not account.is_operator:
        kind = ROLE_NAMES.get(account.role, account.role)
        raise OperatorError(f"{account.identifier} est un compte {kind}, pas un compte opérateur")
    return account


def add_operator(session: Session, identifier: str, name: str, *, family_name: str | None = None) -> Voter:
    """Create an operator account, not activated (in ``session``'s transaction, flushed)."""
    address = _identifier(identifier)
    try:
        given, family = split_name(name, family_name)
    except AuditorError as exc:
        raise OperatorError(str(exc)) from None
    existing = find_account(session, address)
    if existing is not None:
        # One address, one role: a voter or an auditor who also operates needs a second address.
        raise OperatorError(f"{existing.identifier} est déjà un compte {ROLE_NAMES.get(existing.role, existing.role)}")
    account = Voter(identifier=address, role=ROLE_OPERATOR, first_names=given, family_name=family)
    session.add(account)
    session.flush()
    record(session, "operator.added", subject=account.subject)
    return account


def list_operators(session: Session) -> list[Voter]:
    return list(session.execute(select(Voter).where(Voter.role == ROLE_OPERATOR).order_by(Voter.identifier)).scalars())


def reset_operator(session: Session, identifier: str) -> Voter:
    """Forget the operator's password and question défi and end its sessions (the IdP's and the console's): its
    next sign-in asks for a new activation link."""
    account = _operator(session, identifier)
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
    record(session, "operator.reset", subject=account.subject)
    return account


def remove_operator(session: Session, identifier: str) -> str:
    """Delete the operator account (its sessions end, its tokens go with it); returns its subject, which the audit
    log keeps naming."""
    account = _operator(session, identifier)
    subject = account.subject
    session.delete(account)
    session.flush()
    record(session, "operator.removed", subject=subject)
    return subject
