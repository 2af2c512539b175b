"""Using a réassort link: open it (changes nothing), generate a vote code, or set a new password. No HTTP here.

A link is consumed by one atomic UPDATE in the transaction that writes what it grants, so of any number of
concurrent submissions exactly one gets a code (or sets a password) and the others find the link used. On success
the voter's other live links of the same kind are used up too: a message arriving late must not replace the code
the voter has just noted.

Like every service of the plugin, these write in the caller's session and never commit or roll back: the view
commits once, after the call, whatever the outcome (a refusal's audit event is kept as a success's writes are).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.plugin_api import (
    OneTimeLink,
    Voter,
    change_password,
    consume_link,
    find_link,
    issue_vote_code,
    load_voter,
    record,
    void_links,
)
from reassort_plugin import notices
from reassort_plugin.kinds import Kind, channel_of
from reassort_plugin.request_service import window_is_open

#: ``issued_by`` of the vote codes this plugin issues (``idp.votecode.models.ISSUED_BY``).
ISSUED_BY = "reassort"


@dataclass(frozen=True)
class LiveLink:
    link: OneTimeLink
    voter: Voter
    channel: str


class Refusal(enum.Enum):
    #: Used, expired, or never issued.
    INVALID = "invalid"
    #: Outside the election window (vote codes only); the link is left unused.
    CLOSED = "closed"


@dataclass(frozen=True)
class Generated:
    voter: Voter
    #: The new code in its printed form: shown to the voter, never stored.
    code: str


def live_link(session: Session, token: str, kind: Kind) -> LiveLink | None:
    """The link of ``token`` if it can still be used, changing nothing (a read, in the caller's transaction).

    A view about to hash a password ends this read transaction first (commits), so as not to hold SQLite's write
    lock meanwhile; what this loaded stays readable (the sessions do not expire loaded objects at commit).
    """
    link = find_link(session, token, kind.purpose)
    voter = load_voter(session, link.voter_id) if link is not None else None
    if link is None or voter is None:
        return None
    return LiveLink(link, voter, channel_of(token))


def opened(session: Session, live: LiveLink, kind: Kind) -> None:
    """Audit that a live link was opened (the link itself is untouched)."""
    record(
        session,
        "reassort.link_opened",
        subject=live.voter.subject,
        kind=kind.value,
        channel=live.channel,
        link_id=live.link.id,
    )


def refuse(session: Session, token: str, kind: Kind, reason: str) -> None:
    """Audit a submission on a link that cannot be used."""
    record(session, "reassort.link_refused", subject=None, kind=kind.value, channel=channel_of(token), reason=reason)


def generate_code(session: Session, token: str) -> Generated | Refusal:
    """Consume the link and issue a new vote code, in the caller's transaction (the previous code stops working once
    it commits); a refusal is audited there too."""
    if not window_is_open():
        refuse(session, token, Kind.CODE, "window")
        return Refusal.CLOSED
    consumed = _consume(session, token, Kind.CODE)
    if consumed is None:
        refuse(session, token, Kind.CODE, "used_or_expired")
        return Refusal.INVALID
    link, voter = consumed
    code = issue_vote_code(session, voter, ISSUED_BY)
    void_links(session, voter, Kind.CODE.purpose)
    record(session, "reassort.code_generated", subject=voter.subject, channel=channel_of(token), link_id=link.id)
    notices.notify(session, voter, Kind.CODE, channel_of(token), link.id)
    return Generated(voter, code)


def set_password(session: Session, token: str, password_hash: str) -> Voter | Refusal:
    """Consume the link, store the new password and end every session of the voter, together, in the caller's
    transaction; a refusal is audited there too.

    ``password_hash`` is computed by the caller before this transaction (argon2 must not run holding locks).
    """
    consumed = _consume(session, token, Kind.PASSWORD)
    if consumed is None:
        refuse(session, token, Kind.PASSWORD, "used_or_expired")
        return Refusal.INVALID
    link, voter = consumed
    change_password(session, voter, password_hash)
    void_links(session, voter, Kind.PASSWORD.purpose)
    record(session, "reassort.password_changed", subject=voter.subject, channel=channel_of(token), link_id=link.id)
    notices.notify(session, voter, Kind.PASSWORD, channel_of(token), link.id)
    return voter


def _consume(session: Session, token: str, kind: Kind) -> tuple[OneTimeLink, Voter] | None:
    """Consume the link of ``token`` and load its voter, or undo the attempt (a link whose voter is gone stays
    unused) and return None. A savepoint bounds the undo to this attempt: the caller's transaction goes on."""
    attempt = session.begin_nested()
    link = consume_link(session, token, kind.purpose)
    voter = load_voter(session, link.voter_id) if link is not None else None
    if link is None or voter is None:
        attempt.rollback()
        return None
    attempt.commit()
    return link, voter
