"""Creating, listing, resetting and removing staff accounts (``idp auditors``, ``idp operators``), free of the
command line, for any staff role.

A staff account is a row of the accounts table whose ``role`` is not "voter" and which has no civil identity (see
:mod:`idp.models.voter`). It signs in through the same screens as a voter: on its first sign-in it asks for the
activation link, which goes to its address, and chooses its password and question défi. One address, one role: a
voter or an auditor who also operates needs a second address. Every change is an administrative action, audited with
the account's pseudonymous subject (never its address), as ``<role>.added``, ``<role>.reset`` and ``<role>.removed``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp import validation
from idp.audit import record
from idp.models import Voter
from idp.models.voter import ROLE_AUDITOR, ROLE_OPERATOR, ROLE_VOTER

#: The French name of each role, for the messages.
ROLE_NAMES = {ROLE_VOTER: "électeur", ROLE_AUDITOR: "auditeur", ROLE_OPERATOR: "opérateur"}


class StaffAccountError(ValueError):
    """A request on staff accounts that cannot be carried out (the message says why, in French)."""


def split_name(name: str, family_name: str | None = None) -> tuple[str, str]:
    """(given names, family name) of ``--name "Prénom Nom"``: the family name is the last word, unless
    ``family_name`` says which words it is (a family name of several words)."""
    full = " ".join(name.split())
    if family_name is not None:
        family = " ".join(family_name.split())
        if not family or not full.endswith(" " + family):
            raise StaffAccountError("--family-name doit être la fin de --name, après le ou les prénoms")
        given = full[: -len(family) - 1]
    else:
        given, _, family = full.rpartition(" ")
    if not given or not family:
        raise StaffAccountError("--name doit donner le ou les prénoms puis le nom, par exemple « Camille Durand »")
    try:
        return (
            validation.normalise_name(given, label="prénoms", max_length=300),
            validation.normalise_name(family, label="nom de famille", max_length=200),
        )
    except validation.InvalidValue as exc:
        raise StaffAccountError(str(exc)) from None


def _identifier(raw: str) -> str:
    try:
        return validation.normalise_identifier(raw)
    except validation.InvalidValue as exc:
        raise StaffAccountError(str(exc)) from None


def find_account(session: Session, identifier: str) -> Voter | None:
    return session.execute(select(Voter).where(Voter.identifier == _identifier(identifier))).scalar_one_or_none()


def _role_name(role: str) -> str:
    return ROLE_NAMES.get(role, role)


@dataclass(frozen=True)
class StaffAccounts:
    """The accounts of one staff role (``ROLE_AUDITOR``, ``ROLE_OPERATOR``); each method works in the caller's
    ``session`` (its transaction: the caller commits) and records its audit event there."""

    role: str

    @property
    def noun(self) -> str:
        """The role's French name: « auditeur », « opérateur »."""
        return _role_name(self.role)

    def _existing(self, session: Session, identifier: str) -> Voter:
        address = _identifier(identifier)
        account = find_account(session, address)
        if account is None:
            raise StaffAccountError(f"aucun compte {address}")
        if account.role != self.role:
            raise StaffAccountError(
                f"{account.identifier} est un compte {_role_name(account.role)}, pas un compte {self.noun}"
            )
        return account

    def add(self, session: Session, identifier: str, name: str, *, family_name: str | None = None) -> Voter:
        """Create an account of this role, not activated (in ``session``'s transaction, flushed)."""
        address = _identifier(identifier)
        given, family = split_name(name, family_name)
        existing = find_account(session, address)
        if existing is not None:
            # One address, one role: voting, auditing and operating stay apart.
            raise StaffAccountError(f"{existing.identifier} est déjà un compte {_role_name(existing.role)}")
        account = Voter(identifier=address, role=self.role, first_names=given, family_name=family)
        session.add(account)
        session.flush()
        record(session, f"{self.role}.added", subject=account.subject)
        return account

    def list(self, session: Session) -> list[Voter]:
        return list(session.execute(select(Voter).where(Voter.role == self.role).order_by(Voter.identifier)).scalars())

    def reset(self, session: Session, identifier: str) -> Voter:
        """Forget the account's password and question défi and end its sessions (the IdP's and the console's): its
        next sign-in asks for a new activation link (a staff account has no NUMEN or NIR, so the voters' réassort
        cannot serve it)."""
        account = self._existing(session, identifier)
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
        record(session, f"{self.role}.reset", subject=account.subject)
        return account

    def remove(self, session: Session, identifier: str) -> str:
        """Delete the account (its sessions end, its tokens go with it); returns its subject, which the audit log
        keeps naming."""
        account = self._existing(session, identifier)
        subject = account.subject
        session.delete(account)
        session.flush()
        record(session, f"{self.role}.removed", subject=subject)
        return subject


AUDITORS = StaffAccounts(ROLE_AUDITOR)
OPERATORS = StaffAccounts(ROLE_OPERATOR)
