"""The vote-code réassort through FranceConnect: the rules around the federation's match. No HTTP here.

The voter is signed in (password level) and proves who they are at FranceConnect instead of answering their
question défi; the identité pivot designates a voter (``idp.plugin_api.franceconnect_take_match``). The rules are
those of the défi route:

* only inside the election window, checked before leaving for the provider and again on the way back (the
  window may close meanwhile);
* the réassort's lock (voter or client address, set after repeated failures) refuses this route too: it is one
  réassort, and a lock is audited and explained the same way whatever the route;
* a match that designates *another* voter than the signed-in one is a failed proof of identity for the signed-in
  voter: refused, counted towards the same lockout as a wrong answer, and audited with both pseudonymous subjects
  (someone holding a voter's password and presenting their own FranceConnect identity is what an auditor wants
  to see);
* a match of the signed-in voter resets their failure count (as a right answer does) and grants a single-use link
  in this browser (``request_service.grant_link``, channel tag "F"), with which "Générer un code" runs exactly as
  for a link received by SMS or e-mail.

The hourly limit of links *sent* is not applied: it protects a voter's phone and mailbox from being flooded, and
nothing is sent here; each grant costs a full authentication at the provider.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.plugin_api import MatchedVoter, Voter, pseudonym, record, throttle
from reassort_plugin.kinds import Kind
from reassort_plugin.request_service import SCOPE, grant_link, locked_for, window_is_open
from reassort_plugin.settings import settings

#: The federation's ``purpose`` of this route (a match is handed only to the purpose that started it).
PURPOSE = "reassort"
CHANNEL = "franceconnect"


class Outcome(enum.Enum):
    #: A link was granted: on to "Générer un code".
    GRANTED = "granted"
    #: The voter may leave for the provider.
    GO = "go"
    CLOSED = "closed"
    LOCKED = "locked"
    #: The FranceConnect identity is another voter's.
    OTHER_VOTER = "other_voter"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    #: Seconds before the voter may try again (``LOCKED``).
    retry_after: int | None = None
    #: The single-use link's token (``GRANTED``): kept in this browser only, never shown.
    token: str | None = None


def _refusal(session: Session, voter: Voter, address: str) -> Result | None:
    """The window and the lock, checked the same way before and after the provider; audited (not committed)."""
    if not window_is_open():
        record(
            session, "reassort.refused", subject=voter.subject, kind=Kind.CODE.value, channel=CHANNEL, reason="window"
        )
        return Result(Outcome.CLOSED)
    locked = locked_for(voter.identifier, address)
    if locked:
        record(session, "reassort.throttled", subject=voter.subject, kind=Kind.CODE.value, channel=CHANNEL)
        return Result(Outcome.LOCKED, retry_after=locked)
    return None


def before_start(session: Session, voter: Voter, address: str) -> Result:
    """May ``voter`` leave for FranceConnect? Audits the request (or its refusal); the view commits."""
    refused = _refusal(session, voter, address)
    if refused is not None:
        return refused
    record(session, "reassort.requested", subject=voter.subject, kind=Kind.CODE.value, channel=CHANNEL)
    return Result(Outcome.GO)


def conclude(session: Session, voter: Voter, match: MatchedVoter, address: str) -> Result:
    """What the match of the signed-in ``voter`` allows; the view commits (the refusal's events and lock too)."""
    refused = _refusal(session, voter, address)
    if refused is not None:
        return refused
    t = throttle(SCOPE)
    cfg = settings()
    attempt = t.reserve("voter", voter.identifier, cfg.voter_limit)
    if not attempt.allowed:
        record(session, "reassort.throttled", subject=voter.subject, kind=Kind.CODE.value, channel=CHANNEL)
        return Result(Outcome.LOCKED, retry_after=attempt.retry_after)
    if match.voter_id != voter.id:
        record(
            session,
            "reassort.franceconnect_refused",
            subject=voter.subject,
            kind=Kind.CODE.value,
            channel=CHANNEL,
            reason="other_voter",
            matched_subject=match.subject,
        )
        if t.failed("voter", voter.identifier, cfg.voter_limit, attempt):
            record(session, "reassort.locked", subject=voter.subject, scope="voter", duration=cfg.voter_limit.lock_for)
        if t.failure("address", address, cfg.address_limit):
            record(
                session,
                "reassort.locked",
                subject=None,
                scope="address",
                address=pseudonym("address", address),
                duration=cfg.address_limit.lock_for,
            )
        return Result(Outcome.OTHER_VOTER)
    t.reset("voter", voter.identifier)
    token = grant_link(session, voter, CHANNEL)
    return Result(Outcome.GRANTED, token=token)
