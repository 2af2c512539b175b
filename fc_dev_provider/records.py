"""What the store holds between requests: pending logins, authorization codes and access tokens.

Codes and tokens are stored under the SHA-256 of their value (a copy of the store does not hold usable
credentials) with their expiry time, decided against the provider's clock. Each carries the login's scenario,
so the faults chosen at login follow it to the token and userinfo endpoints, in whichever process serves them.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, TokenMixin

from fc_dev_provider.citizens import Citizen
from fc_dev_provider.scenarios import Scenario

ACR = "eidas1"
#: Authentication methods (RFC 8176) the development provider claims: a password, as most of FranceConnect's.
AMR = ("pwd",)


def code_key(code: str) -> str:
    return "code:" + hashlib.sha256(code.encode()).hexdigest()


def token_key(access_token: str) -> str:
    return "token:" + hashlib.sha256(access_token.encode()).hexdigest()


def interaction_key(uid: str) -> str:
    return "interaction:" + uid


@dataclass(frozen=True)
class Login:
    """The citizen a tester picked, with the scenario of this login: Authlib's ``grant_user``."""

    citizen: Citizen
    scenario: Scenario | None
    auth_time: int


def _scenario_dict(scenario: Scenario | None) -> dict[str, Any] | None:
    return scenario.to_dict() if scenario else None


def _scenario_of(data: dict[str, Any] | None) -> Scenario | None:
    return Scenario.from_dict(data) if data else None


@dataclass(frozen=True)
class CodeRecord(AuthorizationCodeMixin):  # type: ignore[misc]
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str
    citizen_id: str
    sub: str
    auth_time: int
    expires_at: float
    scenario: dict[str, Any] | None

    @classmethod
    def issue(
        cls, *, client_id: str, redirect_uri: str, scope: str, nonce: str, login: Login, sub: str, expires_at: float
    ) -> CodeRecord:
        return cls(
            client_id,
            redirect_uri,
            scope,
            nonce,
            login.citizen.id,
            sub,
            login.auth_time,
            expires_at,
            _scenario_dict(login.scenario),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def fault_scenario(self) -> Scenario | None:
        return _scenario_of(self.scenario)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str:
        return ACR

    def get_amr(self) -> list[str]:
        return list(AMR)


@dataclass(frozen=True)
class TokenRecord(TokenMixin):  # type: ignore[misc]
    """An access token as the userinfo endpoint sees it; ``expired`` is decided when it is read."""

    client_id: str
    citizen_id: str
    sub: str
    scope: str
    expires_at: float
    scenario: dict[str, Any] | None
    expired: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["expired"]
        return data

    @property
    def fault_scenario(self) -> Scenario | None:
        return _scenario_of(self.scenario)

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return 0

    def is_expired(self) -> bool:
        return self.expired

    def is_revoked(self) -> bool:
        return False
