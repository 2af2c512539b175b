"""The published API of the IdP for its plugins: the one module of ``idp`` a plugin may import.

Everything else in ``idp`` is internal and may change without notice; a plugin that needs more asks for it here,
where each name says why a plugin needs it. The names are thin wrappers over the IdP's own services, so a plugin
follows exactly the IdP's rules (uniform answers, throttling in the shared store, keyed hashes, single-use links,
the audit chain, the delivery outbox) instead of re-implementing them. The import contracts (``pyproject.toml``,
``tests/test_architecture.py``) check that the réassort plugin imports nothing else from ``idp``.

A plugin is an object with a ``name`` and ``register(app, registry)`` (:class:`Plugin`), published in the
entry-point group ``portail_elections.idp_plugins`` and enabled by name in ``IDP_PLUGINS``. In ``register`` it adds
its blueprint, its audit event types and its links to the IdP's named places (:data:`PLACES`).

Conventions: functions that write take the SQLAlchemy ``session`` of the request (:func:`get_session`) and do not
commit — the plugin commits once, so that a change and its audit event are written together or not at all. A
plugin's own services follow the same rule (they never commit or roll back); its views commit once, right after the
service call, whatever the outcome (see the plugin authors' guide, "Services and views").

Re-exported as they are (why a plugin needs each):

- ``Plugin``, ``PluginRegistry``, ``PluginError``, ``PLACES``: the contract. ``register`` adds links with
  ``registry.add_link(place, endpoint, label)``; ``PluginError`` raised there (a configuration that cannot work)
  stops the IdP at start-up instead of failing voter by voter.
- ``ConfigError``: what a plugin's ``check_settings(config)`` raises for a setting it cannot work with (its own
  settings are declared in its ``DEFAULTS``, read like the IdP's: see :class:`Plugin`); :func:`check_positive` is
  the common check.
- ``get_session()``: the request's database session (closed at teardown), so that a plugin's writes share the
  request's transaction; ``utcnow()``: aware UTC "now", as the IdP stores instants.
- ``record(session, type, subject=..., **data)`` and ``register_event_types(types)``: every step that matters to
  an auditor is an event of the IdP's tamper-evident log, written in the transaction of the change it records; the
  log refuses types outside its vocabulary, so a plugin declares its own when it registers. ``data`` holds no
  secret and no personal datum.
- ``observe_events(observer)`` and ``bounded_label(value, allowed)``: a plugin's metrics, counted from its audit
  events once their transaction commits (``observer(type, data, client_id)``), with label values from fixed lists
  only (see :mod:`idp.metrics`).
- ``Message`` and ``enqueue(session, message, purpose=, subject=)``: e-mail and SMS go through the durable outbox,
  sent and retried by the worker after commit (payload encrypted, erased after delivery), so a request never
  waits on a mail relay or an SMS gateway. (Wrapped: the IdP's own ``enqueue`` takes the outbox key as an
  argument; this one passes the application's.)
- ``normalise_numen``, ``normalise_nir_prefix``, ``academie_of``, ``InvalidValue``: the formats of the voter
  import, so that what the import accepted is accepted from the voter, with the same precise French messages.
- ``remember(key, value, ttl)`` and ``recall(key)``: a short-lived, harmless detail shared by every process (the
  ephemeral store), e.g. the masked destination of a link until it is used.
- ``is_ministry_domain``: the one list of the ministry's mail domains (every académie, overseas included, and the
  ministries'), which a "personal" address must not be on.
- ``password_problems(password, identifier)``, ``PASSWORD_MIN_LENGTH``: one password policy for the activation and
  for any plugin that sets a password.
- ``Limit``, ``Throttle``, ``Attempt``: failure counts, locks and rate limits (see :func:`throttle`); a guessable
  secret is checked only after ``Throttle.reserve`` allowed the try (an ``Attempt``), then ``failed`` or ``reset``.
- ``QUESTIONS``: the questions défi a voter chooses from (key → French text).
- ``MatchedVoter``: what :func:`franceconnect_take_match` returns (``voter_id``, ``subject``, ``purpose``,
  ``matched_at``): the voter the FranceConnect identity designated, never the identity itself.
- ``Voter``, ``OneTimeLink``: the models, for type annotations and reading (``Voter.id``, ``subject`` — the
  pseudonymous audit reference —, ``identifier``, ``challenge_question``, ``is_activated``). Plugins change them
  only through the functions below.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app, url_for
from sqlalchemy import update
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from idp import config as _config
from idp import federation as _federation
from idp.audit import record, register_event_types
from idp.auth import screens as _screens
from idp.auth import service as _auth
from idp.auth import transaction as _transaction
from idp.auth.questions import QUESTIONS
from idp.auth.state import current_voter
from idp.auth.state import sign_out as _sign_out
from idp.auth.throttle import Attempt, Limit, Throttle
from idp.db import get_session
from idp.delivery import Message, outbox_sealer
from idp.delivery import enqueue as _enqueue
from idp.federation import MatchedVoter
from idp.metrics import observe_events
from idp.ministry_domains import is_ministry_domain
from idp.models import OneTimeLink, OutboxMessage, Voter, utcnow
from idp.oidc.logout import end_voter_sessions
from idp.plugins import PLACES, Plugin, PluginError, PluginRegistry
from idp.security.normalise import normalise_answer
from idp.security.password_policy import MIN_LENGTH as PASSWORD_MIN_LENGTH
from idp.security.password_policy import password_problems
from idp.security.tokens import new_link_token
from idp.store import get_store
from idp.validation import InvalidValue, academie_of, normalise_nir_prefix, normalise_numen
from idp.votecode.service import issue_code
from idp.web import client_address as _client_address
from idp.web import keyed_hasher, secret_hasher
from infra.config import ConfigError
from infra.metrics import bounded as bounded_label

__all__ = [
    "PASSWORD_MIN_LENGTH",
    "PASSWORD_PAGE_ENDPOINT",
    "PLACES",
    "QUESTIONS",
    "SIGN_IN_ENDPOINT",
    "SIGN_IN_RESTART_ENDPOINT",
    "VOTE_CODE_ENDPOINT",
    "Attempt",
    "ConfigError",
    "ElectionWindow",
    "InvalidValue",
    "Limit",
    "MatchedVoter",
    "Message",
    "OneTimeLink",
    "Plugin",
    "PluginError",
    "PluginRegistry",
    "Throttle",
    "Voter",
    "academie_of",
    "audit_ref",
    "bounded_label",
    "change_password",
    "check_positive",
    "client_address",
    "consume_link",
    "create_link",
    "election_window",
    "end_all_sessions",
    "enqueue",
    "find_link",
    "find_voter",
    "franceconnect_enabled",
    "franceconnect_start",
    "franceconnect_take_match",
    "get_session",
    "hash_password",
    "identity_number_matches",
    "is_ministry_domain",
    "issue_vote_code",
    "load_voter",
    "normalise_nir_prefix",
    "normalise_numen",
    "observe_events",
    "on_screen_shown",
    "open_sealed",
    "password_problems",
    "pending_sign_in_identifier",
    "pseudonym",
    "public_url",
    "question_text",
    "recall",
    "record",
    "register_event_types",
    "remember",
    "seal",
    "sign_out",
    "signed_in_voter",
    "throttle",
    "utcnow",
    "verify_answer",
    "void_links",
]

#: Endpoint of the vote-code step ("Saisie du code de vote"); it takes ``next``, where to go once the code is
#: accepted. A plugin sends the voter back there after re-issuing a code.
VOTE_CODE_ENDPOINT = "stepup.vote_code"
#: Endpoint of the identifier step; it takes ``next`` (a local path) to come back after signing in.
SIGN_IN_ENDPOINT = "login.identifier"
#: Endpoint of the password page of a sign-in under way (where a voter who forgot their password comes from).
PASSWORD_PAGE_ENDPOINT = "login.password"  # noqa: S105 - an endpoint name
#: Endpoint that forgets the sign-in transaction and starts again at the identifier step.
SIGN_IN_RESTART_ENDPOINT = "login.restart"


def on_screen_shown(app: Flask, listener: Callable[[str, str], None]) -> None:
    """Have ``listener(endpoint, next)`` told when the IdP shows a sign-in screen (:data:`VOTE_CODE_ENDPOINT`,
    :data:`SIGN_IN_ENDPOINT`) in its answer to an authorization request rather than at the screen's own address
    (whose request a ``before_app_request`` hook sees): the same page, with that ``next``."""
    _screens.on_shown(app, listener)


# --- requests ------------------------------------------------------------------------------------------------


def client_address() -> str:
    """The client address as the IdP sees it (behind ``IDP_TRUSTED_PROXIES``), for per-address throttling."""
    return _client_address()


def public_url(endpoint: str, **values: Any) -> str:
    """Absolute URL of ``endpoint`` under ``IDP_PUBLIC_URL``: links in e-mails and SMS must not depend on the
    ``Host`` header of the request that caused them (a forged header would send voters elsewhere)."""
    return str(current_app.config["PUBLIC_URL"]).rstrip("/") + url_for(endpoint, **values)


# --- voters and the sign-in state ----------------------------------------------------------------------------
# Voter (the model) is exported for type annotations and for reading: id, subject (the pseudonymous reference
# used in the audit log), identifier, challenge_question, is_activated. Plugins change voters only through the
# functions below.


def signed_in_voter() -> Voter | None:
    """The voter signed in on this browser session, or None (not signed in, or the session was ended).

    A plugin offering something to a signed-in voter (the vote-code réassort) starts from here.
    """
    found = current_voter()
    return found[1] if found is not None else None


def pending_sign_in_identifier() -> str | None:
    """The identifier typed at the identifier step of the sign-in under way in this browser, or None.

    A voter who forgot their password is not signed in; the password page knows them only by this identifier,
    which may or may not be a voter's. A plugin using it must answer the same way in both cases.
    """
    return _transaction.pending_identifier()


def find_voter(session: Session, identifier: str) -> Voter | None:
    """The voter whose identifier is ``identifier`` (normalised, as the identifier step stores it), or None."""
    return _auth.find_voter(session, identifier)


def load_voter(session: Session, voter_id: int) -> Voter | None:
    """The voter a single-use link is bound to (``OneTimeLink.voter_id``)."""
    return session.get(Voter, voter_id)


def sign_out() -> None:
    """Clear this browser's session (sign-in transaction included): after a password change, for example."""
    _sign_out()


def audit_ref(voter: Voter | None, identifier: str) -> str:
    """The audit ``subject`` of a voter, or of an identifier that is no voter's (a keyed hash, never in clear)."""
    return _auth.audit_ref(keyed_hasher(), voter, identifier)


def pseudonym(domain: str, value: str) -> str:
    """A keyed hash of ``value`` (a client address, say) to name it in an audit event without writing it."""
    return keyed_hasher().hexdigest(f"audit:{domain}", value)[:32]


def question_text(key: str | None) -> str | None:
    """The French text of a question défi, from the key stored for the voter (``Voter.challenge_question``).

    :data:`QUESTIONS` (key → text) is the list voters choose from at activation.
    """
    return QUESTIONS.get(key) if key else None


# --- verifying what a voter knows ----------------------------------------------------------------------------


def verify_answer(voter: Voter | None, answer: str) -> bool:
    """Whether ``answer`` is the voter's secret answer (normalised: case, accents and spaces do not count).

    Always costs one argon2id verification, also for ``None`` or a voter without an answer, so that the time of
    an answer does not tell whether the account exists.
    """
    stored = voter.challenge_answer_hash if voter is not None else None
    result = secret_hasher().verify(stored, normalise_answer(answer))
    return result.ok and stored is not None


def identity_number_matches(voter: Voter | None, kind: str, value: str) -> bool:
    """Whether a normalised NUMEN (``kind`` "numen") or NIR prefix ("nir") is the voter's, in constant time.

    Only keyed hashes of both are stored (by the voter import); ``None`` costs the same work and never matches.
    """
    if kind not in {"numen", "nir"}:
        raise ValueError(f"unknown identity number kind {kind!r}")
    stored = None
    if voter is not None:
        stored = voter.numen_hash if kind == "numen" else voter.nir_hash
    matched = keyed_hasher().matches(kind, value, stored if stored is not None else bytes(32))
    return matched and stored is not None


def hash_password(password: str) -> str:
    """The argon2id hash of a new password, to compute *before* the transaction that stores it (it takes tens of
    milliseconds, which must not be spent holding locks)."""
    return secret_hasher().hash(password)


# --- throttling ----------------------------------------------------------------------------------------------


def throttle(scope: str) -> Throttle:
    """Failure counters, locks and rate limits named by ``scope``, in the ephemeral store every process shares.

    Keys are keyed hashes of the values counted, so the store never holds an identifier or an address in clear.
    """
    return Throttle(get_store(), keyed_hasher(), scope)


# --- single-use links ----------------------------------------------------------------------------------------


def create_link(session: Session, voter: Voter, purpose: str, ttl: int, *, tag: str = "") -> tuple[str, int]:
    """A new single-use link for ``voter`` and ``purpose``, valid ``ttl`` seconds: returns (token, link id).

    The token is ``tag`` followed by 256 random bits from :mod:`secrets`; only its keyed hash is stored, bound to
    the voter and the purpose. ``tag`` (a few URL-safe characters) lets the plugin recognise, once the link is
    found by its hash, something it chose when sending it (the channel), without storing it anywhere.
    """
    token = tag + new_link_token()
    link = OneTimeLink(
        token_hash=keyed_hasher().digest("link", token),
        voter_id=voter.id,
        purpose=purpose,
        expires_at=utcnow() + dt.timedelta(seconds=ttl),
    )
    session.add(link)
    session.flush()
    return token, link.id


def find_link(session: Session, token: str, purpose: str) -> OneTimeLink | None:
    """The live link (not used, not expired) of ``token`` and ``purpose``, changing nothing: what a GET of the
    link shows (mail scanners open links before the voter does)."""
    return _auth.find_link(session, keyed_hasher(), token, purpose)


def consume_link(session: Session, token: str, purpose: str) -> OneTimeLink | None:
    """Mark the link used in the caller's transaction, atomically: of concurrent requests exactly one gets it."""
    return _auth.consume_link(session, keyed_hasher(), token, purpose)


def void_links(session: Session, voter: Voter, purpose: str) -> int:
    """Use up every live link of ``voter`` for ``purpose`` (the others of a request that succeeded): an older
    message arriving late must not undo what the voter just did. Returns how many were voided."""
    now = utcnow()
    result = session.execute(
        update(OneTimeLink)
        .where(
            OneTimeLink.voter_id == voter.id,
            OneTimeLink.purpose == purpose,
            OneTimeLink.used_at.is_(None),
            OneTimeLink.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- messages ------------------------------------------------------------------------------------------------


def enqueue(session: Session, message: Message, *, purpose: str, subject: str | None = None) -> OutboxMessage:
    """Queue ``message`` in the outbox in the caller's transaction, with its ``message.queued`` event; the worker
    sends it after the commit. ``subject``: the voter's pseudonymous audit reference (never the address)."""
    return _enqueue(session, message, sealer=outbox_sealer(), purpose=purpose, subject=subject)


# --- credentials ---------------------------------------------------------------------------------------------


def issue_vote_code(session: Session, voter: Voter, issued_by: str) -> str:
    """A new vote code for ``voter``, replacing the previous one in the caller's transaction.

    Returns the code in its printed form (``K7QM-3XWD-9PRTA``, as on the notices), to show once; only its keyed
    hash is stored and the ``votecode.issued`` event is recorded with ``issued_by``.
    """
    return issue_code(session, voter, issued_by, hasher=keyed_hasher())


def change_password(session: Session, voter: Voter, password_hash: str) -> None:
    """Store a new election password (hashed with :func:`hash_password`) and end every session of the voter."""
    voter.password_hash = password_hash
    end_all_sessions(session, voter)


def end_all_sessions(session: Session, voter: Voter) -> None:
    """End every session of ``voter`` on every device (they go back to the sign-in at their next request), and
    every client application's session and tokens (refresh tokens revoked, back-channel logout notices queued)."""
    _auth.end_all_sessions(session, voter)
    end_voter_sessions(session, voter.id, voter.subject, reason="password_changed")


# --- secrets kept in the session for a few minutes -----------------------------------------------------------


def _fernet(purpose: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"idp plugin sealed {purpose}".encode()).derive(
        str(current_app.config["SECRET_KEY"]).encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def remember(key: str, value: str, ttl: int) -> None:
    """Keep ``value`` for ``ttl`` seconds in the ephemeral store every process shares (under ``plugin:``).

    Why: a plugin may need, when a link comes back, a harmless detail it knew when sending it — the réassort keeps
    the *masked* destination (``06 •• •• •• 34``) for the link's lifetime to tell the voter's academic mailbox
    where the link had gone — without a column for it in the database. Never a secret or a full address.
    """
    get_store().set(f"plugin:{key}", value, ttl)


def recall(key: str) -> str | None:
    """What :func:`remember` kept under ``key``, taken (read and deleted at once), or None once expired."""
    return get_store().take(f"plugin:{key}")


def seal(purpose: str, value: str) -> str:
    """``value`` encrypted and authenticated (Fernet, key derived from ``IDP_SECRET_KEY`` for ``purpose``).

    Why: a plugin may have to show a secret again until the voter confirms they noted it (a re-issued vote code)
    without the session store holding it in clear.
    """
    return _fernet(purpose).encrypt(value.encode()).decode()


def open_sealed(purpose: str, token: str, max_age: int) -> str | None:
    """The value of :func:`seal` if it was sealed for ``purpose`` less than ``max_age`` seconds ago, else None."""
    try:
        return _fernet(purpose).decrypt(token.encode(), ttl=max_age).decode()
    except (InvalidToken, ValueError):
        return None


# --- the election window -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ElectionWindow:
    """From the sealing of the voter lists and vote codes (``sealed_at``) to the closing of the vote.

    A bound left unset (development, testing) is open; :meth:`is_complete` says whether both are set.
    """

    sealed_at: dt.datetime | None
    closes_at: dt.datetime | None

    def is_complete(self) -> bool:
        return self.sealed_at is not None and self.closes_at is not None

    def is_open(self, now: dt.datetime) -> bool:
        if self.sealed_at is not None and now < self.sealed_at:
            return False
        return not (self.closes_at is not None and now >= self.closes_at)

    def has_not_opened(self, now: dt.datetime) -> bool:
        return self.sealed_at is not None and now < self.sealed_at


def check_positive(config: Mapping[str, Any], settings: Iterable[str]) -> None:
    """Each of ``settings`` (a plugin's own, in its ``check_settings``) must be a positive integer; otherwise the IdP
    refuses to start with the one-line message of its own settings (``IDP_<NAME> must be a positive integer``)."""
    _config.SETTINGS.check_at_least(config, settings)


def election_window() -> ElectionWindow:
    """The election window configured in the IdP (``IDP_ELECTION_SEALED_AT``, ``IDP_ELECTION_CLOSES_AT``), which
    bounds what a plugin may do for an election (re-issue a vote code)."""
    cfg = current_app.config
    return ElectionWindow(
        _config.parse_instant("ELECTION_SEALED_AT", cfg.get("ELECTION_SEALED_AT")),
        _config.parse_instant("ELECTION_CLOSES_AT", cfg.get("ELECTION_CLOSES_AT")),
    )


# --- FranceConnect ---------------------------------------------------------------------------------------------
# The IdP is a relying party of a FranceConnect-style provider (idp.federation). A plugin may send a voter there to
# prove who they are, and learn which voter the returned identité pivot designates; what the match then allows is
# the plugin's decision (the federation says *who*, never *what is allowed*).


def franceconnect_enabled(app: Flask | None = None) -> bool:
    """Whether the IdP offers the FranceConnect route (``IDP_FC_ENABLED`` and a usable provider configuration).

    A plugin offers a FranceConnect choice only when this is true, so that voters are never shown a route that
    cannot work. Pass ``app`` from ``register`` (no request is under way there).
    """
    return _federation.is_enabled(app)


def franceconnect_start(next_url: str, purpose: str, *, back_url: str) -> Response | tuple[str, int]:
    """Send the browser to FranceConnect: return this from a view (a redirect, or the French error page of a
    disabled or unreachable provider, already audited).

    After the provider, the browser comes back to ``next_url`` (a path of this site) where
    :func:`franceconnect_take_match` gives the designated voter; after any failure (cancelled, fault, nobody or
    several voters matched) the federation shows its own page, whose button leads to ``back_url``. ``purpose``
    (1 to 32 of ``a-z 0-9 _``) names the plugin's route: a match is handed only to the same purpose, in the same
    browser, once. ``"login"`` is refused: it is the IdP's own sign-in, which a match must not reach from a
    plugin (it would continue a sign-in the plugin did not start).
    """
    if purpose == _federation.LOGIN:
        raise ValueError("the purpose 'login' belongs to the IdP's sign-in; a plugin names its own")
    return _federation.start(next_url, purpose, back_url=back_url)


def franceconnect_take_match(purpose: str) -> MatchedVoter | None:
    """The voter the FranceConnect identity designated for ``purpose`` in this browser, once, within ten minutes;
    None when the browser comes without a fresh match (reloaded, bookmarked, or another browser's callback).

    Only a match handed over by the callback of a route this browser started counts, so a plugin can trust
    ``voter_id``; it must still check that it is the voter it acts for (a signed-in voter may present someone
    else's FranceConnect identity).
    """
    return _federation.take_match(purpose)
