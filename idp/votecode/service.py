"""Vote codes in the database: issuing one (notice, réassort) and checking what a voter typed, free of HTTP.

A voter has at most one current code, kept as a keyed hash in ``vote_code`` (one row per voter). Issuing writes
that row with an upsert, so the previous code stops working in the caller's transaction, atomically even when two
requests issue a code for the same voter at once.

Like every service of the IdP, these take what they need as arguments (the session, the keyed hasher, the
throttle and its limit: :class:`StepContext`, gathered by the view), write in the caller's session without
committing, and return an outcome; the caller commits.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from idp.audit import record
from idp.auth.throttle import Limit, Throttle
from idp.models import Base, Voter, utcnow
from idp.security.keyed import KeyedHasher
from idp.votecode import codes
from idp.votecode.models import VoteCode
from infra.store import EphemeralStore

#: Domain of the keyed hash (see :class:`~idp.security.keyed.KeyedHasher`).
PURPOSE = "vote_code"
#: Scope of the vote-code step's failure counts and locks in the ephemeral store.
THROTTLE_SCOPE = "votecode"
_ISSUED_BY_RE = re.compile(r"^[a-z_]{1,20}$")
#: Compared against when a voter has no code: same work (one HMAC, one constant-time comparison), never equal.
_NO_CODE = bytes(32)
_TABLE = Base.metadata.tables[VoteCode.__tablename__]


def code_digest(hasher: KeyedHasher, voter_id: int, code: str) -> bytes:
    """Keyed hash of a canonical code, bound to its voter: a hash copied to another voter's row matches nothing."""
    return hasher.digest(PURPOSE, f"{voter_id}:{code}")


def upsert_statement(session: Session) -> Insert:
    """``INSERT … ON CONFLICT (voter_id) DO UPDATE``: replaces a voter's code in one atomic statement.

    Both supported databases have it; the dialect's own ``insert`` is needed to say so.
    """
    dialect = session.get_bind().dialect.name
    insert_fn: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert_fn(_TABLE)
    result: Insert = stmt.on_conflict_do_update(
        index_elements=[_TABLE.c.voter_id],
        set_={
            "code_hash": stmt.excluded.code_hash,
            "issued_at": stmt.excluded.issued_at,
            "issued_by": stmt.excluded.issued_by,
        },
    )
    return result


def issue_code(session: Session, voter: Voter, issued_by: str, *, hasher: KeyedHasher) -> str:
    """Give ``voter`` a new vote code, replacing the previous one in ``session``'s transaction (not committed).

    Returns the code in its printed form (``K7QM-3XWD-9PRTA``): the caller shows or prints it once; only its keyed
    hash is stored. The audit event says who issued it, never the code.
    """
    if not _ISSUED_BY_RE.fullmatch(issued_by):
        raise ValueError(f"issued_by must be a short lower-case label, got {issued_by!r}")
    if not voter.is_voter:
        raise ValueError(f"an {voter.role} account is on no roll: it never gets a vote code")
    code = codes.new_code()
    session.execute(
        upsert_statement(session),
        {
            "voter_id": voter.id,
            "code_hash": code_digest(hasher, voter.id, code),
            "issued_at": utcnow(),
            "issued_by": issued_by,
        },
    )
    record(session, "votecode.issued", subject=voter.subject, issued_by=issued_by)
    return codes.grouped(code)


#: The voter's current code hash: a Core statement on the session's connection (one column, no ORM row).
_CODE_HASH = select(_TABLE.c.code_hash).where(_TABLE.c.voter_id == bindparam("voter_id"))


def code_matches(session: Session, hasher: KeyedHasher, voter_id: int, code: str) -> bool:
    """Whether canonical ``code`` is the voter's current one; a voter without a code costs the same work."""
    stored = session.connection().execute(_CODE_HASH, {"voter_id": voter_id}).scalar_one_or_none()
    return hasher.matches(PURPOSE, f"{voter_id}:{code}", stored if stored is not None else _NO_CODE)


# --- the vote-code step ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepContext:
    """What the vote-code step needs from the application, gathered per request by the view (:func:`context`)."""

    hasher: KeyedHasher
    throttle: Throttle
    #: ``IDP_VOTECODE_LOCKOUT_THRESHOLD`` wrong codes in ``…_WINDOW`` seconds lock the step ``…_DURATION`` seconds.
    limit: Limit


def lockout_limit(config: Mapping[str, Any]) -> Limit:
    return Limit(
        int(config["VOTECODE_LOCKOUT_THRESHOLD"]),
        int(config["VOTECODE_LOCKOUT_WINDOW"]),
        int(config["VOTECODE_LOCKOUT_DURATION"]),
    )


def context(config: Mapping[str, Any], store: EphemeralStore, hasher: KeyedHasher) -> StepContext:
    """The step's context from the application's settings, ephemeral store and keyed hasher."""
    return StepContext(hasher, Throttle(store, hasher, THROTTLE_SCOPE), lockout_limit(config))


class Outcome(enum.Enum):
    OK = "ok"
    #: Not a vote code at all (length, characters): says nothing about the voter's code, so not counted.
    MALFORMED = "malformed"
    #: Wrong code, or no code issued: one answer for both, counted towards the lockout.
    WRONG = "wrong"
    LOCKED = "locked"


@dataclass(frozen=True)
class CheckResult:
    outcome: Outcome
    #: Seconds before the voter may try again (``LOCKED``).
    retry_after: int | None = None
    #: ``OK``: writes the ``votecode.verified`` event, for the caller to commit with what the step leads to
    #: (:meth:`idp.auth.continuation.After.response`). Not written yet.
    record: Callable[[Session], None] | None = None


def locked_for(step: StepContext, voter: Voter) -> int | None:
    """Seconds left on the lock of the voter's vote-code step, or None."""
    return step.throttle.locked_for("voter", voter.subject)


def reject(session: Session, voter: Voter, reason: str) -> None:
    """Audit an entry refused before its code was looked at (not counted towards the lockout); not committed."""
    record(session, "votecode.rejected", subject=voter.subject, reason=reason)


def check_entry(session: Session, step: StepContext, voter: Voter, entry: str) -> CheckResult:
    """Check what the voter typed, counting failures and auditing every outcome in the caller's transaction (not
    committed: the caller commits). On OK the event is not written yet: :attr:`CheckResult.record` writes it, in the
    transaction the caller commits with the code the step leads to (after a rollback, the caller runs it again).

    A malformed entry is refused before anything is counted (it says nothing about the code); a well-formed one
    is tried only after its try is reserved (:meth:`Throttle.reserve`), so parallel submissions never get more
    than ``IDP_VOTECODE_LOCKOUT_THRESHOLD`` codes checked per window. The counts live in the ephemeral store, not
    in the transaction: a rollback by the caller does not give a try back.
    """
    t, limit = step.throttle, step.limit
    code = codes.normalise(entry)
    if code is None:
        # Locked first: a locked voter is told so, whatever was typed.
        locked = t.locked_for("voter", voter.subject)
        if locked:
            record(session, "votecode.throttled", subject=voter.subject)
            return CheckResult(Outcome.LOCKED, retry_after=locked)
        reject(session, voter, "format")
        return CheckResult(Outcome.MALFORMED)
    attempt = t.reserve("voter", voter.subject, limit)  # a locked voter's try is refused here, not counted
    if not attempt.allowed:
        record(session, "votecode.throttled", subject=voter.subject)
        return CheckResult(Outcome.LOCKED, retry_after=attempt.retry_after)
    if not code_matches(session, step.hasher, voter.id, code):
        record(session, "votecode.failed", subject=voter.subject)
        if t.failed("voter", voter.subject, limit, attempt):
            record(session, "votecode.locked", subject=voter.subject, duration=limit.lock_for)
        locked = t.locked_for("voter", voter.subject)
        if locked:
            return CheckResult(Outcome.LOCKED, retry_after=locked)
        return CheckResult(Outcome.WRONG)
    t.reset("voter", voter.subject)
    return CheckResult(Outcome.OK, record=partial(_record_verified, voter.subject))


def _record_verified(subject: str, session: Session) -> None:
    record(session, "votecode.verified", subject=subject)
