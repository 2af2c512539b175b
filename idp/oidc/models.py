"""Durable data of the OpenID Provider: clients, codes, tokens, consents, signing keys, client sessions and the
back-channel logout queue.

The classes implement the duck-typed protocols Authlib's server expects (``ClientMixin``, ``AuthorizationCodeMixin``,
``TokenMixin``) on typed SQLAlchemy 2 models of our own, rather than inheriting Authlib's 1.x-style mixins.
Secrets are never stored: client secrets, codes and tokens are kept as SHA-256 digests (see
:mod:`idp.oidc.crypto` for why a fast hash is right for them), private keys encrypted.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.models.base import Base, UTCDateTime, utcnow
from idp.oidc.crypto import secret_matches

if TYPE_CHECKING:
    from idp.models.voter import Voter

#: Authentication methods a client may register for the token, introspection and revocation endpoints.
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
#: Algorithms of ID tokens, signed userinfo and logout tokens.
SIGNING_ALGS = ("ES256", "RS256")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
#: Grants through which a voter signs in (a client registers these, or client_credentials alone: a service).
VOTER_GRANT_TYPES = ("authorization_code", "refresh_token")
SERVICE_GRANT_TYPE = "client_credentials"
RESPONSE_TYPES = ("code",)
SUBJECT_TYPES = ("public", "pairwise")


def allowed_scope(registered: str, requested: str | None) -> str:
    """Of the ``requested`` scopes, those a client registered with ``registered`` may have, in request order, each
    once (:meth:`OidcClient.get_allowed_scope`)."""
    if not requested:
        return ""
    allowed = set(registered.split())
    kept: list[str] = []
    for item in requested.split():
        if item in allowed and item not in kept:
            kept.append(item)
    return " ".join(kept)


class OidcClient(Base):
    """A relying party. Implements Authlib's ``ClientMixin`` protocol."""

    __tablename__ = "oidc_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: SHA-256 of the secret (None for public and private_key_jwt clients).
    client_secret_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None)
    client_name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(2000), default=None)
    grant_types: Mapped[list[str]] = mapped_column(JSON)
    response_types: Mapped[list[str]] = mapped_column(JSON)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(30))
    #: Space-separated scopes the client may obtain.
    scope: Mapped[str] = mapped_column(String(500))
    #: First-party clients (the ministry's own applications) get no consent screen and, by default, public subs.
    first_party: Mapped[bool] = mapped_column(Boolean, default=False)
    subject_type: Mapped[str] = mapped_column(String(10))
    #: Host that pairwise subjects are computed for (None: the host of the redirect URIs).
    sector_identifier: Mapped[str | None] = mapped_column(String(255), default=None)
    sector_identifier_uri: Mapped[str | None] = mapped_column(String(2000), default=None)
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(10), default="ES256")
    #: When set, userinfo answers a signed JWT (``application/jwt``) instead of JSON.
    userinfo_signed_response_alg: Mapped[str | None] = mapped_column(String(10), default=None)
    #: The authorization code grant's ID token also carries the claims its scopes release (as userinfo answers
    #: them), so that the client needs no userinfo call at sign-in (OIDC Core 2: an ID token may hold other claims).
    id_token_claims: Mapped[bool] = mapped_column(Boolean, server_default=sa_false())
    #: Public JWK Set of a ``private_key_jwt`` client.
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    access_token_ttl: Mapped[int] = mapped_column(Integer)
    refresh_token_ttl: Mapped[int] = mapped_column(Integer)
    id_token_ttl: Mapped[int] = mapped_column(Integer)
    #: "cli" or "registration" (RFC 7591).
    registered_by: Mapped[str] = mapped_column(String(20), default="cli")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)

    # --- Authlib ClientMixin -------------------------------------------------------------------------------------

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OpenID Connect makes redirect_uri mandatory: there is never a default.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        """The requested scopes this client may have, in request order; unknown scopes are dropped (OIDC Core
        3.1.2.1: scope values the OP does not understand SHOULD be ignored)."""
        return allowed_scope(self.scope, scope)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact string comparison, as OAuth 2.0 Security BCP and OIDC require."""
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.client_secret_hash is None:
            return False
        return secret_matches(client_secret, self.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """One method per client, the same at every endpoint; a public client cannot introspect."""
        if endpoint == "introspection" and method == "none":
            return False
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.response_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    # --- what Authlib's userinfo and end-session endpoints read -----------------------------------------------------

    @property
    def client_metadata(self) -> dict[str, Any]:
        """Registered metadata under RFC 7591 / OIDC Registration names."""
        metadata: dict[str, Any] = {
            "client_name": self.client_name,
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris or []),
            "grant_types": list(self.grant_types),
            "response_types": list(self.response_types),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "scope": self.scope,
            "subject_type": self.subject_type,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
        }
        if self.userinfo_signed_response_alg:
            metadata["userinfo_signed_response_alg"] = self.userinfo_signed_response_alg
        if self.backchannel_logout_uri:
            metadata["backchannel_logout_uri"] = self.backchannel_logout_uri
            metadata["backchannel_logout_session_required"] = True
        if self.sector_identifier_uri:
            metadata["sector_identifier_uri"] = self.sector_identifier_uri
        if self.jwks:
            metadata["jwks"] = self.jwks
        return metadata

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"  # noqa: S105 - a method name, not a secret

    @property
    def is_service(self) -> bool:
        """A ministry service: tokens for itself only (client_credentials), never a voter's."""
        return SERVICE_GRANT_TYPE in self.grant_types

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None


class OidcAuthorizationCode(Base):
    """A single-use authorization code (its SHA-256 only). Implements Authlib's OIDC ``AuthorizationCodeMixin``.

    The row outlives its use (``used_at``) so that a second presentation is recognised as a reuse, which revokes
    what the first one obtained; ``idp oidc purge`` removes rows well past their expiry.
    """

    __tablename__ = "oidc_authorization_code"
    __table_args__ = (Index("ix_oidc_authorization_code_expires_at", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oidc_client.client_id", ondelete="CASCADE"), index=True)
    voter_id: Mapped[int] = mapped_column(ForeignKey("voter.id", ondelete="CASCADE"), index=True)
    #: Tokens obtained from this code and their refreshed successors share it (revocation by grant).
    grant_id: Mapped[str] = mapped_column(String(64), index=True)
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(String(500))
    nonce: Mapped[str | None] = mapped_column(String(512), default=None)
    code_challenge: Mapped[str | None] = mapped_column(String(128), default=None)
    code_challenge_method: Mapped[str | None] = mapped_column(String(10), default=None)
    auth_time: Mapped[int] = mapped_column(Integer)
    acr: Mapped[str] = mapped_column(String(100))
    amr: Mapped[list[str]] = mapped_column(JSON)
    sid: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str:
        return self.acr

    def get_amr(self) -> list[str]:
        return list(self.amr)


class OidcToken(Base):
    """An access or refresh token (its SHA-256 only). Implements Authlib's ``TokenMixin``."""

    __tablename__ = "oidc_token"
    __table_args__ = (Index("ix_oidc_token_expires_at", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # "access" | "refresh"
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    #: Random identifier named in audit events and introspection (the token itself never is).
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    grant_id: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oidc_client.client_id", ondelete="CASCADE"), index=True)
    #: None for a service's token (client_credentials): no voter, no subject, no authentication.
    voter_id: Mapped[int | None] = mapped_column(ForeignKey("voter.id", ondelete="CASCADE"), index=True)
    #: The ``sub`` this client knows the voter by (public or pairwise).
    subject: Mapped[str | None] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(500))
    auth_time: Mapped[int | None] = mapped_column(Integer)
    acr: Mapped[str | None] = mapped_column(String(100))
    amr: Mapped[list[str]] = mapped_column(JSON)
    sid: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: Refresh tokens only: when it was exchanged for its successor (a later use is a reuse).
    rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: When its client was first told, by introspection, that it is active, and that it is inactive: each answer is
    #: recorded in the audit log once (``token.introspected``, :func:`idp.oidc.tokens.first_introspection_answer`).
    introspected_active_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    introspected_inactive_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)

    #: Read-only links to the holders, so the endpoints that need them load the token, its client and its voter in
    #: one statement (``tokens.find(..., holders=True)``) instead of three. Never written through.
    client: Mapped[OidcClient | None] = relationship(viewonly=True)
    voter: Mapped[Voter | None] = relationship(viewonly=True)

    # --- Authlib TokenMixin ----------------------------------------------------------------------------------------

    def check_client(self, client: OidcClient) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    @property
    def scope_list(self) -> list[str]:
        return self.scope.split()

    def get_expires_in(self) -> int:
        return max(0, int((self.expires_at - self.issued_at).total_seconds()))

    def is_expired(self) -> bool:
        return self.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None or (self.kind == "refresh" and self.rotated_at is not None)

    def is_active(self) -> bool:
        return not self.is_expired() and not self.is_revoked()


class OidcConsent(Base):
    """What a voter allowed a third-party client, remembered per scope."""

    __tablename__ = "oidc_consent"
    __table_args__ = (UniqueConstraint("client_id", "voter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oidc_client.client_id", ondelete="CASCADE"))
    voter_id: Mapped[int] = mapped_column(ForeignKey("voter.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(500))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class OidcSigningKey(Base):
    """A signing key: public JWK in clear, private JWK encrypted with ``IDP_KEY_ENCRYPTION_KEY``.

    Life cycle: published at creation, used from ``not_before``, published until ``retire_after`` (set when a
    successor takes over: the successor's activation plus the longest lifetime of what this key signed).
    """

    __tablename__ = "oidc_signing_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    alg: Mapped[str] = mapped_column(String(10))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: AES-256-GCM: 12-byte nonce followed by the ciphertext of the private JWK (the kid is the associated data).
    private_jwk_encrypted: Mapped[bytes] = mapped_column(LargeBinary())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    not_before: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    retire_after: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class OidcClientSession(Base):
    """That a client was given tokens within one sign-in session of a browser: the ``sid`` of back-channel logout.

    ``op_session`` is a hash of the random identifier of the IdP session (kept in the server-side session), so a
    copy of this table cannot be used to hijack a session. ``sid`` differs per client, which keeps third-party
    clients from correlating their users through it.
    """

    __tablename__ = "oidc_client_session"
    __table_args__ = (UniqueConstraint("op_session", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    op_session: Mapped[str] = mapped_column(String(64))  # indexed by the unique (op_session, client_id)
    client_id: Mapped[str] = mapped_column(ForeignKey("oidc_client.client_id", ondelete="CASCADE"))
    voter_id: Mapped[int] = mapped_column(ForeignKey("voter.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class OidcLogoutNotice(Base):
    """A back-channel logout token to POST to a client, queued in the transaction of the logout.

    The token is signed when sent (not stored), so that it is fresh and signed with the current key; a worker
    (``idp oidc deliver-logouts``) claims rows with a lease, like the delivery outbox.
    """

    __tablename__ = "oidc_logout_notice"
    __table_args__ = (Index("ix_oidc_logout_notice_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oidc_client.client_id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(64))
    sid: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
