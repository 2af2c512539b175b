"""Signing keys: creation, rotation with a publication delay, the published JWKS, and the key to sign with.

Rotation follows the rule that keeps every relying party working: a new key is *published* in the JWKS at once
but *used* only after ``IDP_KEY_ACTIVATION_DELAY`` (longer than the JWKS cache lifetime), and the key it replaces
stays published until everything it signed has expired. Private parts are stored encrypted
(:class:`idp.oidc.crypto.KeyCipher`); decrypted keys are cached per process by ``kid`` (immutable rows).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from idp.models import utcnow
from idp.oidc.crypto import KeyCipher, development_key_encryption_key
from idp.oidc.models import SIGNING_ALGS, OidcClient, OidcSigningKey

SigningKey = ECKey | RSAKey


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
        self._private: dict[str, SigningKey] = {}
        self._lock = threading.Lock()

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

    def init(self, session: Session) -> list[OidcSigningKey]:
        """Create an immediately usable key for each algorithm that has none (idempotent)."""
        created = []
        now = utcnow()
        for alg in SIGNING_ALGS:
            if self._usable(session, alg, now) is None:
                created.append(self._store(session, generate(alg), now))
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

    def signing_key(self, session: Session, alg: str) -> SigningKey:
        """The private key to sign with for ``alg`` now (its ``kid`` set)."""
        row = self._usable(session, alg, utcnow())
        if row is None:
            raise NoSigningKey(f"no active {alg} signing key: run `idp keys init`")
        with self._lock:
            cached = self._private.get(row.kid)
        if cached is not None:
            return cached
        data = json.loads(self.cipher.decrypt(row.kid, row.private_jwk_encrypted))
        key: SigningKey = ECKey.import_key(data) if data["kty"] == "EC" else RSAKey.import_key(data)
        with self._lock:
            self._private[row.kid] = key
        return key

    def public_jwks(self, session: Session) -> dict[str, Any]:
        """The JWKS document: every key published now (not yet active, active, and superseded but unexpired)."""
        rows = (
            session.execute(
                select(OidcSigningKey.public_jwk).where(self._published(utcnow())).order_by(OidcSigningKey.id)
            )
            .scalars()
            .all()
        )
        return {"keys": [dict(jwk) for jwk in rows]}

    def verification_keys(self, session: Session) -> KeySet:
        """The published keys, to verify what this IdP signed (``id_token_hint``)."""
        return KeySet.import_key_set(self.public_jwks(session))  # type: ignore[arg-type]

    def describe(self, session: Session) -> list[KeyInfo]:
        rows = session.execute(select(OidcSigningKey).order_by(OidcSigningKey.id)).scalars().all()
        return [KeyInfo(r.kid, r.alg, r.created_at, r.not_before, r.retire_after) for r in rows]
