"""The provider's state for one app instance, kept in ``app.extensions`` (no module-level state)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app

from fc_dev_provider.citizens import Citizen
from fc_dev_provider.clients import Client
from fc_dev_provider.keys import SigningKey
from fc_dev_provider.scenarios import ScenarioBook
from fc_dev_provider.store import JsonStore
from fc_dev_provider.subjects import pairwise_sub

if TYPE_CHECKING:
    from fc_dev_provider.server import ProviderServer

EXTENSION = "fc_dev_provider"


@dataclass
class Provider:
    config: dict[str, Any]
    clock: Callable[[], float]
    signing_key: SigningKey
    clients: dict[str, Client]
    citizens: dict[str, Citizen]
    scenarios: ScenarioBook
    store: JsonStore
    server: ProviderServer | None = None

    @property
    def issuer(self) -> str:
        return str(self.config["ISSUER"])

    @property
    def allow_http(self) -> bool:
        """An http issuer is a development set-up: Authlib's https-only check would refuse every request."""
        return self.issuer.startswith("http://")

    def url(self, path: str) -> str:
        return self.issuer + path

    def now(self) -> float:
        return float(self.clock())

    def ttl(self, name: str) -> int:
        return int(self.config[name])

    def sub_for(self, client: Client, citizen_id: str) -> str:
        return pairwise_sub(client.sector, citizen_id, str(self.config["SUBJECT_SALT"]))

    @property
    def authorization_server(self) -> ProviderServer:
        assert self.server is not None, "the authorization server is built by create_app"
        return self.server


def get_provider() -> Provider:
    provider: Provider = current_app.extensions[EXTENSION]
    return provider
