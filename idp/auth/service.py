"""Sign-in and activation rules, free of HTTP: the screens call these, these call the database and the store.

They take what they need as arguments — the session, and a :class:`SignInContext` (the application's hashers, the
sign-in throttle and its limits) or just the keyed hasher — which the screens, the delivery worker's composer and
the plugin API gather from the application; they write in the caller's session without committing and return an
outcome. One exception, explained in its docstring: :func:`check_password` places its own transaction boundaries.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from idp import validation
from idp.audit import record
from idp.auth.throttle import Limit, Throttle
from idp.delivery import Message, enqueue
from idp.delivery.composers import Composed
from idp.models import OneTimeLink, Voter, utcnow
from idp.security.hashing import SecretHasher
from idp.security.keyed import KeyedHasher
from idp.security.normalise import normalise_answer
from idp.security.tokens import new_link_token
from infra.store import EphemeralStore
from templates.durations import format_duration

ACTIVATION = "activation"
#: Outbox purpose of a queued « Recevoir mon lien d'activation » (composed by the worker).
ACTIVATION_REQUEST = "activation_request"
#: Scope of the sign-in's failure counts, locks and rate limits in the ephemeral store.
THROTTLE_SCOPE = "login"


def normalise_identifier(raw: str) -> str | None:
    """Lower-cased, trimmed identifier, or None if it is not an e-mail address.

    The same rules as the voter import (:mod:`idp.validation`), so that every imported voter can sign in and nothing
    else gets past the identifier step.
    """
    try:
        return validation.normalise_identifier(raw)
    except validation.InvalidValue:
        return None


@dataclass(frozen=True)
class SignInContext:
    """What the sign-in and activation rules need from the application, gathered per request (:func:`context`)."""

    hasher: SecretHasher
    keyed: KeyedHasher
    throttle: Throttle
    #: ``IDP_LOCKOUT_THRESHOLD`` failures for one identifier in ``…_WINDOW`` seconds lock it ``…_DURATION`` seconds.
    identifier_limit: Limit
    #: ``IDP_IP_FAILURE_THRESHOLD`` failures from one address in ``IDP_IP_WINDOW`` seconds lock it that long.
    address_limit: Limit
    #: The outbox's key (:func:`idp.delivery.outbox_sealer`), for the activation requests it queues.
    sealer: Fernet


def identifier_limit(config: Mapping[str, Any]) -> Limit:
    return Limit(config["LOCKOUT_THRESHOLD"], config["LOCKOUT_WINDOW"], config["LOCKOUT_DURATION"])


def address_limit(config: Mapping[str, Any]) -> Limit:
    return Limit(config["IP_FAILURE_THRESHOLD"], config["IP_WINDOW"], config["IP_WINDOW"])


def context(
    config: Mapping[str, Any], store: EphemeralStore, hasher: SecretHasher, keyed: KeyedHasher, sealer: Fernet
) -> SignInContext:
    """The rules' context from the application's settings, ephemeral store, hashers and outbox key."""
    return SignInContext(
        hasher,
        keyed,
        Throttle(store, keyed, THROTTLE_SCOPE),
        identifier_limit(config),
        address_limit(config),
        sealer,
    )


def audit_ref(keyed: KeyedHasher, voter: Voter | None, identifier: str) -> str:
    """The pseudonymous subject of an audit event: the voter's ``subject``, or a keyed hash if unknown."""
    return voter.subject if voter is not None else _unknown_ref(keyed, identifier)


def _unknown_ref(keyed: KeyedHasher, identifier: str) -> str:
    return "unknown:" + keyed.hexdigest("audit:identifier", identifier)[:32]


#: Built once, as the statements below: the password step runs it at every sign-in, and building a statement and
#: its cache key cost about as much as running it.
_VOTER_BY_IDENTIFIER = select(Voter).where(Voter.identifier == bindparam("identifier"))


def find_voter(session: Session, identifier: str) -> Voter | None:
    return session.execute(_VOTER_BY_IDENTIFIER, {"identifier": identifier}).scalar_one_or_none()


#: Built once: the identifier step runs it at every sign-in (building a statement costs about as much as running it).
_SUBJECT_BY_IDENTIFIER = select(Voter.subject).where(Voter.identifier == bindparam("identifier"))


def audit_subject(session: Session, keyed: KeyedHasher, identifier: str) -> str:
    """:func:`audit_ref` of ``identifier`` when nothing else of the voter is needed: their ``subject`` alone is read
    (no whole row made into an object), the same statement whether the identifier is a voter's or not. Run on the
    session's connection, outside the ORM's execution (nothing of the ORM to load, nothing pending to flush first:
    the callers read before they write)."""
    connection = session.connection()
    subject = connection.execute(_SUBJECT_BY_IDENTIFIER, {"identifier": identifier}).scalar_one_or_none()
    return subject if subject is not None else _unknown_ref(keyed, identifier)


class IdentifierOutcome(enum.Enum):
    ACCEPTED = "accepted"
    CAPTCHA = "captcha"
    FORMAT = "format"


@dataclass(frozen=True)
class IdentifierResult:
    outcome: IdentifierOutcome
    #: The normalised identifier, when accepted (it may or may not be a voter's: the answer is the same).
    identifier: str | None = None


def identify(session: Session, keyed: KeyedHasher, raw: str, *, captcha_ok: bool) -> IdentifierResult:
    """The identifier step: a CAPTCHA answered and an identifier of the academic form are accepted, whether or not a
    voter has it; either way the step is audited (in the caller's transaction, not committed)."""
    identifier = normalise_identifier(raw)
    if not captcha_ok or identifier is None:
        reason = IdentifierOutcome.CAPTCHA if not captcha_ok else IdentifierOutcome.FORMAT
        record(session, "login.identifier_rejected", reason=reason.value)
        return IdentifierResult(reason)
    record(session, "login.identifier_accepted", subject=audit_subject(session, keyed, identifier))
    return IdentifierResult(IdentifierOutcome.ACCEPTED, identifier)


class PasswordOutcome(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"


@dataclass(frozen=True)
class PasswordResult:
    outcome: PasswordOutcome
    voter: Voter | None = None
    retry_after: int | None = None
    #: ``OK``: the success's writes (the ``login.succeeded`` event, a rehash), for the caller to commit with what the
    #: sign-in leads to (:meth:`idp.auth.continuation.After.response`). Not written yet.
    record: Callable[[Session], None] | None = None


def lock_remaining(ctx: SignInContext, identifier: str, address: str) -> int | None:
    t = ctx.throttle
    left = [s for s in (t.locked_for("identifier", identifier), t.locked_for("address", address)) if s]
    return max(left) if left else None


def check_password(
    session: Session, ctx: SignInContext, identifier: str, password: str, address: str
) -> PasswordResult:
    """Verify the election password with uniform answers and timing, counting failures.

    An unknown identifier, an account not yet activated and a wrong password all cost one argon2 verification
    and give the same outcome. The try is reserved before argon2 runs (:meth:`Throttle.reserve`): of any number
    of parallel tries for one identifier, at most ``IDP_LOCKOUT_THRESHOLD`` are verified per window.

    Unlike the other services this one commits: on SQLite the read transaction ends before argon2 runs (it would
    hold the database's write lock for tens of milliseconds), and a refusal's audit events are committed before it
    is returned. A success's are not written: :attr:`PasswordResult.record` writes them (``login.succeeded``, and the
    new hash with ``password.rehashed`` when the parameters changed) in the transaction the caller commits with the
    code the sign-in leads to — one transaction, not two. It is idempotent until committed: after a rollback the
    caller runs it again.
    """
    t = ctx.throttle
    voter = find_voter(session, identifier)
    ref = audit_ref(ctx.keyed, voter, identifier)
    limit = ctx.identifier_limit
    # One round trip: the identifier's and the address's locks looked at, the identifier's try counted.
    attempt = t.reserve("identifier", identifier, limit, unless=[("address", address)])
    if not attempt.allowed:
        record(session, "login.throttled", subject=ref, step="password")
        session.commit()
        retry = lock_remaining(ctx, identifier, address) or attempt.retry_after
        return PasswordResult(PasswordOutcome.LOCKED, retry_after=retry or limit.lock_for)
    stored_hash = voter.password_hash if voter else None
    if session.get_bind().dialect.name == "sqlite":
        # End the read transaction before argon2 (tens of milliseconds): on SQLite it holds the database's write
        # lock, which would make every other request wait for each password check. The writes below open a new one.
        # On PostgreSQL a read holds no lock and, in READ COMMITTED, no snapshot between statements: the transaction
        # goes on, and the writes after argon2 join it (no COMMIT, no second checkout of a pooled connection).
        session.commit()
    result = ctx.hasher.verify(stored_hash, password)
    if not result.ok or voter is None:
        record(session, "login.password_failed", subject=ref)
        if t.failed("identifier", identifier, limit, attempt):
            record(
                session,
                "login.locked",
                subject=ref,
                scope="identifier",
                duration=limit.lock_for,
            )
        if t.failure("address", address, ctx.address_limit):
            record(
                session,
                "login.locked",
                subject=None,
                scope="address",
                address=ctx.keyed.hexdigest("audit:address", address)[:32],
                duration=ctx.address_limit.lock_for,
            )
        session.commit()
        locked = lock_remaining(ctx, identifier, address)
        if locked:
            return PasswordResult(PasswordOutcome.LOCKED, retry_after=locked)
        return PasswordResult(PasswordOutcome.WRONG)
    t.reset("identifier", identifier)
    return PasswordResult(PasswordOutcome.OK, voter=voter, record=partial(_record_success, voter, result.new_hash))


def _record_success(voter: Voter, new_hash: str | None, session: Session) -> None:
    """A password sign-in's writes (see :func:`check_password`), not committed."""
    if new_hash:
        voter.password_hash = new_hash
        record(session, "password.rehashed", subject=voter.subject, secret="password")  # noqa: S106 - a label
    record(session, "login.succeeded", subject=voter.subject, acr="password", amr=["pwd"])


# --- activation -----------------------------------------------------------------------------------------------


def activation_rate_limited(throttle: Throttle, identifier: str) -> bool:
    """At most three activation requests an hour for one identifier, known or not (no mail-bombing)."""
    return throttle.hit("activation", identifier, Limit(3, 3600, 3600))


def request_activation(session: Session, ctx: SignInContext, identifier: str) -> None:
    """« Recevoir mon lien d'activation »: queue the request; the delivery worker decides what to send.

    The caller shows the same page whatever happens, and this does the same work whatever the identifier (one
    lookup for the audit subject, one rate-limit count, one audit event, one outbox row): what differs — a link
    for an account not yet activated, a message saying so for an activated one, nothing for an unknown
    identifier — is decided by :func:`compose_activation` in the worker, where its timing is nobody's to see.
    Not committed: the caller commits.
    """
    subject = audit_subject(session, ctx.keyed, identifier)
    record(session, "activation.requested", subject=subject)
    if not activation_rate_limited(ctx.throttle, identifier):
        enqueue(
            session,
            Message("email", identifier, "", ""),
            sealer=ctx.sealer,
            purpose=ACTIVATION_REQUEST,
            subject=subject,
        )


@dataclass(frozen=True)
class ActivationMail:
    """What composing an activation e-mail needs from the application (gathered by the registered composer)."""

    keyed: KeyedHasher
    #: ``IDP_ACTIVATION_LINK_TTL``: seconds an activation link stays valid.
    ttl: int
    #: The absolute address of the activation page of a token (under ``IDP_PUBLIC_URL``).
    link_url: Callable[[str], str]


def compose_activation(session: Session, request: Message, mail: ActivationMail) -> Composed | None:
    """What the delivery worker sends for a queued activation request (see :mod:`idp.delivery.composers`)."""
    voter = find_voter(session, request.recipient)
    if voter is None:
        return None
    if voter.is_activated:
        body = (
            "Bonjour,\n\nUne demande d'activation a été faite pour votre compte électeur, qui est déjà activé.\n"
            "Connectez-vous avec votre mot de passe Élections. Si vous l'avez oublié, utilisez le lien "
            "« Besoin du réassort de votre mot de passe Élections ? » de la page de connexion.\n\n"
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n"
        )
        message = Message("email", voter.identifier, "Portail Élections : votre compte est déjà activé", body)
        return Composed(message, "activation_already_done")
    token = new_link_token()
    ttl = mail.ttl
    session.add(
        OneTimeLink(
            token_hash=mail.keyed.digest("link", token),
            voter_id=voter.id,
            purpose=ACTIVATION,
            expires_at=utcnow() + dt.timedelta(seconds=ttl),
        )
    )
    record(session, "activation.link_created", subject=voter.subject, expires_in=ttl)
    url = mail.link_url(token)
    body = (
        "Bonjour,\n\nPour activer votre compte électeur du portail Élections, ouvrez le lien ci-dessous. "
        f"Il est valable {format_duration(ttl, largest='hour')} et ne peut servir qu'une fois :\n\n{url}\n\n"
        "Vous y choisirez votre mot de passe Élections, une question défi et sa réponse secrète.\n\n"
        "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n"
    )
    return Composed(Message("email", voter.identifier, "Portail Élections : activez votre compte", body), ACTIVATION)


def find_link(session: Session, keyed: KeyedHasher, token: str, purpose: str) -> OneTimeLink | None:
    """The live link for ``token`` (not used, not expired), without changing anything."""
    if not token or len(token) > 100:
        return None
    link = session.execute(
        select(OneTimeLink).where(OneTimeLink.token_hash == keyed.digest("link", token), OneTimeLink.purpose == purpose)
    ).scalar_one_or_none()
    if link is None or link.used_at is not None or link.expires_at <= utcnow():
        return None
    return link


def consume_link(session: Session, keyed: KeyedHasher, token: str, purpose: str) -> OneTimeLink | None:
    """Mark the link used, atomically: of concurrent requests exactly one gets it (the others get None)."""
    now = utcnow()
    token_hash = keyed.digest("link", token)
    result = session.execute(
        update(OneTimeLink)
        .where(
            OneTimeLink.token_hash == token_hash,
            OneTimeLink.purpose == purpose,
            OneTimeLink.used_at.is_(None),
            OneTimeLink.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    return session.execute(select(OneTimeLink).where(OneTimeLink.token_hash == token_hash)).scalar_one()


class ActivationOutcome(enum.Enum):
    OK = "ok"
    INVALID_LINK = "invalid_link"


@dataclass(frozen=True)
class ActivationResult:
    outcome: ActivationOutcome
    #: The audit subject of the voter the link named, if any (for the refusal's event).
    subject: str | None = None


def complete_activation(
    session: Session, ctx: SignInContext, token: str, password: str, question: str, answer: str
) -> ActivationResult:
    """Consume the link and set the password and question défi, in the caller's transaction (not committed).

    A link that cannot be used is ``INVALID_LINK``: the caller rolls back what the attempt wrote (the link's
    consumption) and records the refusal with :func:`refuse_activation`, so that nothing of the attempt is left but
    its ``activation.link_refused`` event.
    """
    # Hash first: argon2 takes tens of milliseconds and must not run while the transaction holds locks.
    password_hash = ctx.hasher.hash(password)
    answer_hash = ctx.hasher.hash(normalise_answer(answer))
    link = consume_link(session, ctx.keyed, token, ACTIVATION)
    voter = session.get(Voter, link.voter_id) if link else None
    if link is None or voter is None or voter.is_activated:
        return ActivationResult(ActivationOutcome.INVALID_LINK, voter.subject if voter else None)
    voter.password_hash = password_hash
    voter.challenge_question = question
    voter.challenge_answer_hash = answer_hash
    voter.activated_at = utcnow()
    record(session, "activation.completed", subject=voter.subject)
    return ActivationResult(ActivationOutcome.OK, voter.subject)


def refuse_activation(session: Session, subject: str | None) -> None:
    """Record that an activation link was refused (not committed)."""
    record(session, "activation.link_refused", subject=subject)


# --- ending every session of a voter ---------------------------------------------------------------------------


def end_all_sessions(session: Session, voter: Voter) -> None:
    """End every session of ``voter``, on every device, in the caller's transaction (not committed).

    Sessions live in the ephemeral store under random ids that cannot be listed per voter, so instead of deleting
    them the voter's ``session_epoch`` moves on: :func:`idp.auth.state.current_authentication` refuses any session
    signed in under an older epoch. The increment is one UPDATE in SQL (not read-modify-write in Python), so two
    concurrent password changes both take effect.
    """
    session.execute(
        update(Voter)
        .where(Voter.id == voter.id)
        .values(session_epoch=Voter.session_epoch + 1)
        .execution_options(synchronize_session=False)
    )
    session.expire(voter, ["session_epoch"])
