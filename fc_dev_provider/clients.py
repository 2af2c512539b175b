"""Registered clients (service providers), read from a small JSON file or an inline JSON value.

Format: ``{"clients": [{...}, ...]}`` (or the bare list), each client with ``client_id``, ``client_secret``,
``redirect_uris``, ``post_logout_redirect_uris``, and optionally ``sector`` (the pairwise sector identifier;
default: the host of the first redirect URI) and ``client_name`` (shown on the login page).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin

#: FranceConnect accepts the client secret in the Authorization header or in the form body.
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
MIN_SECRET_LENGTH = 16


class ClientsError(ValueError):
    """The clients file is malformed; the message names the client and the field."""


@dataclass(frozen=True)
class Client(ClientMixin):  # type: ignore[misc]
    """A confidential client of the authorization code flow, as Authlib's grants expect it."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    sector: str
    client_name: str

    @property
    def client_metadata(self) -> dict[str, Any]:
        """What Authlib's end-session endpoint reads to check ``post_logout_redirect_uri``."""
        return {"post_logout_redirect_uris": list(self.post_logout_redirect_uris)}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # FranceConnect requires redirect_uri in every authorization request

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(dict.fromkeys((scope or "").split()))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


def _absolute_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.hostname) and not parts.fragment


def _uri_list(entry: Mapping[str, Any], field: str, where: str, *, required: bool) -> tuple[str, ...]:
    value = entry.get(field, [])
    if not isinstance(value, list) or (required and not value):
        raise ClientsError(f"{where}: {field} must be a {'non-empty ' if required else ''}list of URLs")
    for uri in value:
        if not _absolute_http_url(uri):
            raise ClientsError(f"{where}: {field} holds {uri!r}, not an absolute http(s) URL, no fragment")
    return tuple(value)


def parse_client(entry: Any, index: int) -> Client:
    if not isinstance(entry, Mapping):
        raise ClientsError(f"client #{index}: must be an object")
    client_id = entry.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise ClientsError(f"client #{index}: client_id must be a non-empty string")
    where = f"client {client_id!r}"
    secret = entry.get("client_secret")
    if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
        raise ClientsError(f"{where}: client_secret must have at least {MIN_SECRET_LENGTH} characters")
    redirect_uris = _uri_list(entry, "redirect_uris", where, required=True)
    logout_uris = _uri_list(entry, "post_logout_redirect_uris", where, required=False)
    sector = entry.get("sector") or urlsplit(redirect_uris[0]).hostname
    if not isinstance(sector, str) or not sector:
        raise ClientsError(f"{where}: sector must be a non-empty string")
    name = entry.get("client_name") or client_id
    if not isinstance(name, str):
        raise ClientsError(f"{where}: client_name must be a string")
    return Client(client_id, secret, redirect_uris, logout_uris, sector, name)


def parse_clients(data: Any) -> dict[str, Client]:
    entries = data.get("clients") if isinstance(data, Mapping) else data
    if not isinstance(entries, list) or not entries:
        raise ClientsError('the clients must be a non-empty list (or an object {"clients": [...]})')
    clients: dict[str, Client] = {}
    for index, entry in enumerate(entries, start=1):
        client = parse_client(entry, index)
        if client.client_id in clients:
            raise ClientsError(f"client {client.client_id!r} is registered twice")
        clients[client.client_id] = client
    return clients


def load_clients(inline: str | list[Any] | dict[str, Any] | None, path: str | Path) -> dict[str, Client]:
    """Clients from ``inline`` (a JSON string, or already parsed data) when given, else from the file."""
    if inline is not None:
        try:
            data = json.loads(inline) if isinstance(inline, str) else inline
        except ValueError as exc:
            raise ClientsError(f"FCDEV_CLIENTS is not valid JSON: {exc}") from None
        return parse_clients(data)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ClientsError(f"cannot read the clients file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ClientsError(f"{path} is not valid JSON: {exc}") from None
    return parse_clients(data)
