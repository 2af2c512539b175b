"""Using a réassort link: open it (changes nothing), generate a vote code, or set a new password. No HTTP here.

A link is consumed by one atomic UPDATE in the transaction that writes what it grants, so of any number of
concurrent submissions exactly one gets a code (or sets a password) and the others find the link used. On success
the voter's other live links of the same kind are used up too: a message arriving late must not replace the code
the voter has just noted.
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
    """The link of ``token`` if it can still be used, changing nothing.

    Ends its read transaction, so that a caller about to hash a password does not hold SQLite's write lock
    meanwhile (the sessions do not expire loaded objects at commit).
    """
    link = find_link(session, token, kind.purpose)
    voter = load_voter(session, link.voter_id) if link is not None else None
    session.commit()
    if link is None or voter is None:
        return None
    return LiveLink(link, voter, channel_of(token))


def opened(session: Session, live: LiveLink, kind: Kind) -> None:
    """Audit that a live link was opened (the link itself is untouched); commits."""
    record(
        session,
        "reassort.link_opened",
        subject=live.voter.subject,
        kind=kind.value,
        channel=live.channel,
        link_id=live.link.id,
    )
    session.commit()


def refuse(session: Session, token: str, kind: Kind, reason: str) -> None:
    """Audit a submission on a link that cannot be used; commits."""
    record(session, "reassort.link_refused", subject=None, kind=kind.value, channel=channel_of(token), reason=reason)
    session.commit()


def generate_code(session: Session, token: str) -> Generated | Refusal:
    """Consume the link and issue a new vote code in one transaction (the previous code stops working); commits."""
    if not window_is_open():
        refuse(session, token, Kind.CODE, "window")
        return Refusal.CLOSED
    link = consume_link(session, token, Kind.CODE.purpose)
    voter = load_voter(session, link.voter_id) if link is not None else None
    if link is None or voter is None:
        session.rollback()
        refuse(session, token, Kind.CODE, "used_or_expired")
        return Refusal.INVALID
    code = issue_vote_code(session, voter, ISSUED_BY)
    void_links(session, voter, Kind.CODE.purpose)
    record(session, "reassort.code_generated", subject=voter.subject, channel=channel_of(token), link_id=link.id)
    notices.notify(session, voter, Kind.CODE, channel_of(token), link.id)
    session.commit()
    return Generated(voter, code)


def set_password(session: Session, token: str, password_hash: str) -> Voter | Refusal:
    """Consume the link, store the new password and end every session of the voter, together; commits.

    ``password_hash`` is computed by the caller before this transaction (argon2 must not run holding locks).
    """
    link = consume_link(session, token, Kind.PASSWORD.purpose)
    voter = load_voter(session, link.voter_id) if link is not None else None
    if link is None or voter is None:
        session.rollback()
        refuse(session, token, Kind.PASSWORD, "used_or_expired")
        return Refusal.INVALID
    change_password(session, voter, password_hash)
    void_links(session, voter, Kind.PASSWORD.purpose)
    record(session, "reassort.password_changed", subject=voter.subject, channel=channel_of(token), link_id=link.id)
    notices.notify(session, voter, Kind.PASSWORD, channel_of(token), link.id)
    session.commit()
    return voter
