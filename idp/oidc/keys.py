"""Signing keys: creation, rotation with a publication delay, the published JWKS, and the key to sign with.

Rotation follows the rule that keeps every relying party working: a new key is *published* in the JWKS at once
but *used* only after ``IDP_KEY_ACTIVATION_DELAY`` (longer than the JWKS cache lifetime), and the key it replaces
stays published until everything it signed has expired. Private parts are stored encrypted
(:class:`idp.oidc.crypto.KeyCipher`).

Reading is served from a per-process snapshot of the published keys (:class:`KeyRing`), so neither the JWKS nor
a signature queries the database on every request; see :meth:`KeyManager.ring` for why a short snapshot is exact
for signing and safe for publication. Decrypted private keys are cached by ``kid`` (bounded; rows are immutable
once created, and a key that leaves the snapshot leaves the cache).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any

from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import event, or_, select
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction, sessionmaker

from idp.models import utcnow
from idp.oidc.crypto import KeyCipher, development_key_encryption_key
from idp.oidc.models import SIGNING_ALGS, OidcClient, OidcSigningKey

SigningKey = ECKey | RSAKey

#: Decrypted private keys kept per process: a few algorithms times (active + successor + superseded) at most.
PRIVATE_KEY_CACHE_SIZE = 16
#: Upper bound of the snapshot lifetime, whatever the activation delay (see :meth:`KeyManager.ring`).
MAX_RING_SECONDS = 60


class KeyConfigurationError(RuntimeError):
    """The signing keys cannot be used as configured (message actionable by an operator)."""


class NoSigningKey(RuntimeError):
    """No active key for an algorithm: ``idp keys init`` has not been run."""


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    alg: str
    created_at: dt.datetime
    not_before: dt.datetime
    retire_after: dt.datetime | None

    def state(self, now: dt.datetime) -> str:
        if self.retire_after is not None and self.retire_after <= now:
            return "retiré"
        if self.not_before > now:
            return "publié, pas encore actif"
        if self.retire_after is not None:
            return "remplacé, encore publié"
        return "actif"


@dataclass(frozen=True)
class PublishedKey:
    """What signing and publication need of one ``oidc_signing_key`` row, detached from any session."""

    id: int
    kid: str
    alg: str
    public_jwk: dict[str, Any]
    private_jwk_encrypted: bytes
    not_before: dt.datetime
    retire_after: dt.datetime | None

    def is_published(self, now: dt.datetime) -> bool:
        return self.retire_after is None or self.retire_after > now


@dataclass(frozen=True)
class KeyRing:
    """The keys published when the snapshot was read (and those announced for later), oldest first.

    Every question is answered at the instant it is asked: a key becomes the signing key at its ``not_before`` and
    leaves the JWKS at its ``retire_after`` exactly, whenever the snapshot was taken.
    """

    keys: tuple[PublishedKey, ...]
    #: ``time.monotonic()`` when it was read, and the application's key-write generation it reflects.
    loaded_at: float
    generation: int

    def usable(self, alg: str, now: dt.datetime) -> PublishedKey | None:
        """The most recently created active key of ``alg`` (the same choice as :meth:`KeyManager._usable`)."""
        found = [k for k in self.keys if k.alg == alg and k.not_before <= now and k.is_published(now)]
        return max(found, key=lambda k: k.id) if found else None

    def jwks(self, now: dt.datetime) -> dict[str, Any]:
        return {"keys": [dict(k.public_jwk) for k in self.keys if k.is_published(now)]}


#: ``Session.info`` flag of a session that wrote to ``oidc_signing_key`` in its current transaction.
_WROTE_KEYS = "idp.oidc.keys.wrote"


class KeyWrites:
    """Counts the committed writes to ``oidc_signing_key`` made through one application's sessions, so that every
    snapshot read before one is dropped at once (``idp keys init|rotate`` run by this application, an operator's
    correction, the tests) rather than after its lifetime. Writes by other processes, or by sessions the
    application did not make, are seen when the snapshot expires.

    One per :class:`KeyManager`, so per application; its listeners are on the application's own ``sessionmaker``
    (:meth:`watch`), never on SQLAlchemy's global ``Session``: no other application's statements pass through them.
    """

    def __init__(self) -> None:
        self.generation = 0
        self._lock = threading.Lock()

    def bump(self) -> None:
        with self._lock:
            self.generation += 1

    def watch(self, sessions: sessionmaker[Session]) -> None:
        """Count the key writes of the sessions ``sessions`` makes (the application's writer sessions)."""
        event.listen(sessions, "do_orm_execute", _note_bulk_key_write)
        event.listen(sessions, "after_flush", _note_flushed_key_write)
        event.listen(sessions, "after_commit", self._bump_after_key_write)
        event.listen(sessions, "after_transaction_end", _forget_key_write)

    def _bump_after_key_write(self, session: Session) -> None:
        # After the commit, not at the write: a snapshot read in between by another thread would miss the change.
        if session.info.pop(_WROTE_KEYS, False):
            self.bump()


def _note_bulk_key_write(state: ORMExecuteState) -> None:
    if not state.is_select and state.bind_mapper is not None and state.bind_mapper.class_ is OidcSigningKey:
        state.session.info[_WROTE_KEYS] = True


def _note_flushed_key_write(session: Session, flush_context: UOWTransaction) -> None:
    if any(isinstance(obj, OidcSigningKey) for obj in chain(session.new, session.dirty, session.deleted)):
        session.info[_WROTE_KEYS] = True


def _forget_key_write(session: Session, transaction: SessionTransaction) -> None:
    """A rolled-back write leaves nothing to invalidate (a savepoint's end is not the transaction's)."""
    if transaction.parent is None:
        session.info.pop(_WROTE_KEYS, None)


def cipher_for(config: Mapping[str, Any]) -> KeyCipher:
    secret = config.get("KEY_ENCRYPTION_KEY")
    if not secret:
        if config.get("ENV") == "production":
            raise KeyConfigurationError(
                "IDP_KEY_ENCRYPTION_KEY is not set: it is required in production to encrypt the private signing "
                "keys stored in the database (at least 32 random characters, from the environment or "
                "IDP_KEY_ENCRYPTION_KEY_FILE)."
            )
        secret = development_key_encryption_key(str(config["SECRET_KEY"]))
    elif config.get("ENV") == "production" and len(str(secret)) < 32:
        raise KeyConfigurationError("IDP_KEY_ENCRYPTION_KEY must be at least 32 characters in production")
    return KeyCipher(str(secret))


def generate(alg: str) -> SigningKey:
    """A new private key for ``alg``, its kid the RFC 7638 thumbprint."""
    params: dict[str, Any] = {"alg": alg, "use": "sig"}
    key: SigningKey
    if alg == "ES256":
        key = ECKey.generate_key("P-256", parameters=params)  # type: ignore[arg-type]
    elif alg == "RS256":
        key = RSAKey.generate_key(2048, parameters=params)  # type: ignore[arg-type]
    else:
        raise ValueError(f"unsupported signing algorithm {alg!r} (supported: {', '.join(SIGNING_ALGS)})")
    key.ensure_kid()
    return key


class KeyManager:
    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = config
        self._cipher: KeyCipher | None = None
        self._private: OrderedDict[str, SigningKey] = OrderedDict()
        self._ring: KeyRing | None = None
        self._lock = threading.Lock()
        #: Committed key writes of this application (see :class:`KeyWrites`; ``watch`` is called by
        #: :func:`idp.oidc.init_app` with the application's sessions).
        self.writes = KeyWrites()

    @property
    def cipher(self) -> KeyCipher:
        if self._cipher is None:
            self._cipher = cipher_for(self._config)
        return self._cipher

    @property
    def activation_delay(self) -> int:
        return int(self._config["KEY_ACTIVATION_DELAY"])

    @property
    def jwks_max_age(self) -> int:
        """Cache lifetime of the JWKS: well under the activation delay, so a new key is seen before it is used."""
        return max(0, min(600, self.activation_delay // 4))

    @property
    def ring_seconds(self) -> int:
        """Lifetime of the per-process snapshot: at most half the JWKS max-age (hence under a quarter of the
        activation delay), and never more than a minute. Zero (no snapshot) when the delay is under 4 seconds."""
        return min(MAX_RING_SECONDS, self.jwks_max_age // 2)

    # --- creation and rotation --------------------------------------------------------------------------------------

    def _store(self, session: Session, key: SigningKey, not_before: dt.datetime) -> OidcSigningKey:
        assert key.kid is not None and key.alg is not None
        private = json.dumps(key.as_dict(private=True)).encode()
        row = OidcSigningKey(
            kid=key.kid,
            alg=key.alg,
            public_jwk=dict(key.as_dict(private=False)),
            private_jwk_encrypted=self.cipher.encrypt(key.kid, private),
            not_before=not_before,
        )
        session.add(row)
        session.flush()
        return row

    def init(self, session: Session, new_key: Callable[[str], SigningKey] = generate) -> list[OidcSigningKey]:
        """Create an immediately usable key for each algorithm that has none (idempotent). ``new_key`` makes the
        key of an algorithm (the tests give keys generated once per process: an RSA key takes about 100 ms)."""
        created = []
        now = utcnow()
        for alg in SIGNING_ALGS:
            if self._usable(session, alg, now) is None:
                created.append(self._store(session, new_key(alg), now))
        return created

    def rotate(self, session: Session, alg: str, delay: int | None = None) -> tuple[OidcSigningKey, list[str]]:
        """Publish a new ``alg`` key, used from ``now + delay``; schedule the retirement of the keys it replaces.

        Returns the new key and the kids of the keys it supersedes.
        """
        if alg not in SIGNING_ALGS:
            raise ValueError(f"unsupported signing algorithm {alg!r}")
        now = utcnow()
        activation = now + dt.timedelta(seconds=self.activation_delay if delay is None else delay)
        new = self._store(session, generate(alg), activation)
        retire = activation + dt.timedelta(seconds=self.longest_signed_lifetime(session))
        superseded = (
            session.execute(
                select(OidcSigningKey).where(
                    OidcSigningKey.alg == alg, OidcSigningKey.id != new.id, OidcSigningKey.retire_after.is_(None)
                )
            )
            .scalars()
            .all()
        )
        for old in superseded:
            old.retire_after = retire
        return new, [old.kid for old in superseded]

    def longest_signed_lifetime(self, session: Session) -> int:
        """The longest a signed token stays useful: ID tokens (also accepted as expired ``id_token_hint`` for a
        while after), plus a margin for clock skew."""
        longest_client = (
            session.execute(
                select(OidcClient.id_token_ttl).order_by(OidcClient.id_token_ttl.desc()).limit(1)
            ).scalar_one_or_none()
            or 0
        )
        return max(int(self._config["ID_TOKEN_TTL"]), int(longest_client)) + 300

    # --- reading ------------------------------------------------------------------------------------------------------

    @staticmethod
    def _published(now: dt.datetime) -> Any:
        return or_(OidcSigningKey.retire_after.is_(None), OidcSigningKey.retire_after > now)

    def _usable(self, session: Session, alg: str, now: dt.datetime) -> OidcSigningKey | None:
        """The most recently created key of ``alg`` that is active: a successor takes over at its ``not_before``."""
        return session.execute(
            select(OidcSigningKey)
            .where(OidcSigningKey.alg == alg, OidcSigningKey.not_before <= now, self._published(now))
            .order_by(OidcSigningKey.id.desc())
            .limit(1)
        ).scalar_one_or_none()

    def ring(self, session: Session, *, fresh: bool = False) -> KeyRing:
        """The published keys, from a snapshot at most :attr:`ring_seconds` old (read with ``session`` if not).

        Why a short snapshot is safe:

        * Signing: the snapshot holds the keys announced for later too, and the choice is made at the current
          instant, so a snapshot reproduces the database's answer unless a key was added or changed after it was
          read. A rotation announces its key ``IDP_KEY_ACTIVATION_DELAY`` ahead, and the snapshot lives at most an
          eighth of that: every process has re-read the keys before the new one becomes active, and switches to
          it at its ``not_before`` like the database would. (``idp keys rotate --delay`` shorter than the snapshot:
          other processes keep signing with the previous key for up to :attr:`ring_seconds`; it stays published
          for hours, so what they sign still verifies.)
        * Publication: a relying party may hold our JWKS for ``jwks_max_age``; the snapshot adds at most half of
          that, so the new key still reaches every relying party (max-age + snapshot < half the activation delay)
          before anything is signed with it. A retired key leaves the JWKS at its ``retire_after`` exactly.
        * A write committed in this process (``idp keys init|rotate``) drops the snapshot at once
          (:attr:`writes`); other processes see it within :attr:`ring_seconds`.

        The database is read outside any lock: a thread holding a lock while waiting for SQLite's write lock could
        otherwise deadlock with a thread of an open transaction waiting for that lock. Two threads may then both
        read an expired snapshot; the last one read wins, which is harmless.
        """
        generation = self.writes.generation
        current = None if fresh else self.fresh_ring()
        if current is not None:
            return current
        now = utcnow()
        rows = session.execute(select(OidcSigningKey).where(self._published(now)).order_by(OidcSigningKey.id))
        ring = KeyRing(
            keys=tuple(
                PublishedKey(
                    r.id, r.kid, r.alg, dict(r.public_jwk), r.private_jwk_encrypted, r.not_before, r.retire_after
                )
                for r in rows.scalars()
            ),
            loaded_at=time.monotonic(),
            generation=generation,
        )
        kids = {k.kid for k in ring.keys}
        with self._lock:
            self._ring = ring
            # A retired key's private part leaves memory with it.
            for kid in [kid for kid in self._private if kid not in kids]:
                del self._private[kid]
        return ring

    def fresh_ring(self) -> KeyRing | None:
        """The snapshot if :meth:`ring` would answer it without reading the database, else None."""
        current = self._ring
        if (
            current is not None
            and current.keys  # an empty snapshot is never trusted: the keys may have been created since
            and current.generation == self.writes.generation
            and time.monotonic() - current.loaded_at < self.ring_seconds
        ):
            return current
        return None

    def signing_key(self, session: Session, alg: str) -> SigningKey:
        """The private key to sign with for ``alg`` now (its ``kid`` set).

        A snapshot without an active key is re-read before answering :class:`NoSigningKey`: the keys may have been
        created (``idp keys init`` in another process) since it was taken.
        """
        now = utcnow()
        found = self.ring(session).usable(alg, now) or self.ring(session, fresh=True).usable(alg, now)
        if found is None:
            raise NoSigningKey(f"no active {alg} signing key: run `idp keys init`")
        return self._private_key(found)

    def _private_key(self, published: PublishedKey) -> SigningKey:
        with self._lock:
            cached = self._private.get(published.kid)
            if cached is not None:
                self._private.move_to_end(published.kid)
                return cached
        data = json.loads(self.cipher.decrypt(published.kid, published.private_jwk_encrypted))
        key: SigningKey = ECKey.import_key(data) if data["kty"] == "EC" else RSAKey.import_key(data)
        with self._lock:
            self._private[published.kid] = key
            while len(self._private) > PRIVATE_KEY_CACHE_SIZE:
                self._private.popitem(last=False)
        return key

    def public_jwks(self, session: Session) -> dict[str, Any]:
        """The JWKS document: every key published now (not yet active, active, and superseded but unexpired)."""
        return self.ring(session).jwks(utcnow())

    def verification_keys(self, session: Session) -> KeySet:
        """The published keys, to verify what this IdP signed (``id_token_hint``)."""
        return KeySet.import_key_set(self.public_jwks(session))  # type: ignore[arg-type]

    def describe(self, session: Session) -> list[KeyInfo]:
        rows = session.execute(select(OidcSigningKey).order_by(OidcSigningKey.id)).scalars().all()
        return [KeyInfo(r.kid, r.alg, r.created_at, r.not_before, r.retire_after) for r in rows]
