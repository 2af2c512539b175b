"""Authlib request objects for this provider.

Authlib refuses plain-http requests unless they come to localhost or a loopback address (or a process-wide
environment variable says otherwise). The development provider also runs under a container name
(``http://fc-dev-provider:5002``), so when its issuer is http it lets Authlib check an https twin of the URL
and keeps the real one. An authorization request that waits for the tester's choice is rebuilt from the store.
"""

from __future__ import annotations

from collections.abc import Mapping

from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from flask import Request


def _checked_form(uri: str, allow_http: bool) -> str:
    if allow_http and uri.startswith("http://"):
        return "https://" + uri[len("http://") :]
    return uri


class ProviderRequest(OAuth2Request):  # type: ignore[misc]
    """The current Flask request, as Authlib's ``FlaskOAuth2Request`` but accepting an http issuer."""

    def __init__(self, request: Request, *, allow_http: bool) -> None:
        super().__init__(request.method, _checked_form(request.url, allow_http), headers=request.headers)
        self.uri = request.url
        self._request = request
        self.payload = FlaskOAuth2Payload(request)

    @property
    def args(self) -> Mapping[str, str]:
        return self._request.args

    @property
    def form(self) -> Mapping[str, str]:
        return self._request.form


class StoredAuthorizationRequest(OAuth2Request):  # type: ignore[misc]
    """An authorization request validated at ``/authorize`` and kept while the tester picks a citizen."""

    def __init__(self, uri: str, params: Mapping[str, str], *, allow_http: bool) -> None:
        super().__init__("GET", _checked_form(uri, allow_http), headers={})
        self.uri = uri
        self.payload = BasicOAuth2Payload(dict(params))

    @property
    def args(self) -> Mapping[str, str]:
        data: Mapping[str, str] = self.payload.data
        return data

    @property
    def form(self) -> Mapping[str, str]:
        return {}
