"""Asking for a réassort: check what the voter knows, count failures, send a single-use link. No HTTP here.

The voter proves who they are with their secret answer (and, when they are not signed in, the choice of their
question défi) plus their NUMEN or the first 10 characters of their NIR. Every check is made on every request
(one argon2id verification, two keyed-hash comparisons), whatever fails first and whether the voter exists, so
the answer and its timing are the same for a wrong answer, a wrong number, an unknown identifier or an account not
yet activated. Each try is reserved per voter before it is checked (per identifier, so an unknown one locks like a
real one: of any number of parallel requests at most the threshold are checked), failures are also counted per
client address, in the IdP's shared store; the lock is audited and the voter is told when to retry.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.plugin_api import (
    Limit,
    Voter,
    audit_ref,
    create_link,
    election_window,
    enqueue,
    identity_number_matches,
    pseudonym,
    public_url,
    record,
    throttle,
    utcnow,
    verify_answer,
)
from reassort_plugin import notices
from reassort_plugin.formats import Destination, IdentityNumber
from reassort_plugin.kinds import CHANNEL_TAGS, Kind
from reassort_plugin.messages import link_message
from reassort_plugin.settings import settings

#: Namespace of the plugin's counters and locks in the ephemeral store.
SCOPE = "reassort"
#: Endpoint of the page each kind of link opens.
LINK_ENDPOINTS = {Kind.CODE: "reassort.code_link", Kind.PASSWORD: "reassort.password_link"}


class Outcome(enum.Enum):
    SENT = "sent"
    #: Something did not match (or no such voter): the one uniform answer.
    WRONG = "wrong"
    LOCKED = "locked"
    #: Too many links sent to this voter within the hour.
    TOO_MANY = "too_many"
    #: Outside the election window (vote-code réassort).
    CLOSED = "closed"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    #: Seconds before the voter may try again (``LOCKED``).
    retry_after: int | None = None


@dataclass(frozen=True)
class Request:
    """What the voter typed, already well formed (see :mod:`reassort_plugin.formats`)."""

    kind: Kind
    #: The login identifier the request is for (the signed-in voter's, or the one typed at sign-in).
    identifier: str
    answer: str
    number: IdentityNumber
    destination: Destination
    #: The question défi the voter says is theirs (password réassort, where it is not shown), or None.
    question: str | None = None


def locked_for(identifier: str, address: str) -> int | None:
    """Seconds left on the lock of this voter's réassort or of this client address, or None."""
    t = throttle(SCOPE)
    left = [s for s in (t.locked_for("voter", identifier), t.locked_for("address", address)) if s]
    return max(left) if left else None


def window_is_open() -> bool:
    return election_window().is_open(utcnow())


def _matches(voter: Voter | None, request: Request) -> bool:
    # Every check runs; none short-circuits another (same work whatever is wrong).
    answer_ok = verify_answer(voter, request.answer)
    number_ok = identity_number_matches(voter, request.number.kind, request.number.value)
    question_ok = request.question is None or (voter is not None and voter.challenge_question == request.question)
    return voter is not None and voter.is_activated and answer_ok & number_ok & question_ok


def reject(session: Session, voter: Voter | None, kind: Kind, identifier: str, fields: list[str]) -> None:
    """Audit a request refused for its format (not counted: it reveals nothing about the voter); the view commits."""
    record(
        session,
        "reassort.rejected",
        subject=audit_ref(voter, identifier),
        kind=kind.value,
        reason="format",
        fields=sorted(fields),
    )


def request_link(session: Session, voter: Voter | None, request: Request, address: str) -> Result:
    """Check ``request`` for ``voter`` (None: the identifier is no voter's) and send a link if it matches.

    The address or number of ``request.destination`` goes into the outbox message only (encrypted, erased once
    delivered); the audit events name the channel. The view commits whatever the outcome: a refusal's events
    are kept like a success's link, message and events (one transaction).
    """
    cfg = settings()
    kind, channel = request.kind, request.destination.channel
    subject = audit_ref(voter, request.identifier)
    if kind is Kind.CODE and not window_is_open():
        record(session, "reassort.refused", subject=subject, kind=kind.value, channel=channel, reason="window")
        return Result(Outcome.CLOSED)
    t = throttle(SCOPE)
    address_locked = t.locked_for("address", address)
    attempt = t.reserve("voter", request.identifier, cfg.voter_limit) if not address_locked else None
    if attempt is None or not attempt.allowed:
        record(session, "reassort.throttled", subject=subject, kind=kind.value, channel=channel)
        retry = locked_for(request.identifier, address) or (attempt.retry_after if attempt else None)
        return Result(Outcome.LOCKED, retry_after=retry or cfg.voter_limit.lock_for)
    record(session, "reassort.requested", subject=subject, kind=kind.value, channel=channel)
    if not _matches(voter, request):
        record(session, "reassort.failed", subject=subject, kind=kind.value, channel=channel)
        if t.failed("voter", request.identifier, cfg.voter_limit, attempt):
            record(session, "reassort.locked", subject=subject, scope="voter", duration=cfg.voter_limit.lock_for)
        if t.failure("address", address, cfg.address_limit):
            record(
                session,
                "reassort.locked",
                subject=None,
                scope="address",
                address=pseudonym("address", address),
                duration=cfg.address_limit.lock_for,
            )
        locked = locked_for(request.identifier, address)
        return Result(Outcome.LOCKED, retry_after=locked) if locked else Result(Outcome.WRONG)
    assert voter is not None
    t.reset("voter", request.identifier)
    if t.hit("links", voter.subject, _hourly(cfg.links_per_hour)):
        record(session, "reassort.refused", subject=subject, kind=kind.value, channel=channel, reason="links_per_hour")
        return Result(Outcome.TOO_MANY)
    send_link(session, voter, kind, request.destination)
    return Result(Outcome.SENT)


def send_link(session: Session, voter: Voter, kind: Kind, destination: Destination) -> None:
    """Create a single-use link for ``voter`` and queue it to ``destination``, in the caller's transaction."""
    cfg = settings()
    token, link_id = create_link(session, voter, kind.purpose, cfg.link_ttl, tag=CHANNEL_TAGS[destination.channel])
    notices.keep_destination(link_id, destination.masked, cfg.link_ttl)
    url = public_url(LINK_ENDPOINTS[kind], token=token)
    enqueue(session, link_message(kind, destination, url, cfg), purpose=kind.purpose, subject=voter.subject)
    record(
        session,
        "reassort.link_sent",
        subject=voter.subject,
        kind=kind.value,
        channel=destination.channel,
        link_id=link_id,
        expires_in=cfg.link_ttl,
    )


def _hourly(count: int) -> Limit:
    return Limit(count, 3600, 3600)


def grant_link(session: Session, voter: Voter, channel: str = "franceconnect") -> str:
    """A single-use link for a route that proved the voter's identity in this very browser (FranceConnect): not
    sent anywhere, the caller redirects to it, and "Générer un code" then runs exactly as for a link received by
    SMS or e-mail (window, single use, audit). Returns the token; in the caller's transaction (not committed)."""
    cfg = settings()
    token, link_id = create_link(session, voter, Kind.CODE.purpose, cfg.link_ttl, tag=CHANNEL_TAGS[channel])
    record(
        session,
        "reassort.link_granted",
        subject=voter.subject,
        kind=Kind.CODE.value,
        channel=channel,
        link_id=link_id,
        expires_in=cfg.link_ttl,
    )
    return token
