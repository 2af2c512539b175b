"""HTTP Basic client credentials that are not what RFC 6749 2.3.1 describes get the standard ``invalid_client``
(401, ``WWW-Authenticate: Basic``) at every endpoint that authenticates clients — never a 500 (issue: Latin-1
bytes in the credentials made Authlib's decoding raise)."""

from __future__ import annotations

import base64

import pytest

pytest_plugins = ["tests.oidc_fixtures"]

MALFORMED = [
    "Basic " + base64.b64encode(b"\xff\xfe:\xe9t\xe9").decode(),  # Latin-1, not UTF-8
    "Basic " + base64.b64encode(b"client:\xc3").decode(),  # a truncated UTF-8 sequence
    "Basic " + base64.b64encode(b"\xc0\xaf:secret").decode(),  # an overlong encoding of "/"
    "Basic " + base64.b64encode(b"%ff%fe:%e9").decode(),  # percent-encoded Latin-1 (unquoted leniently)
    "Basic " + base64.b64encode(b"\x00:\x00").decode(),
    "Basic " + base64.b64encode(b"no-colon-at-all").decode(),
    "Basic " + base64.b64encode(b":").decode(),
    "Basic ====",
    "Basic !!!not base64!!!",
    "Basic " + "A" * 10_000,
    "Basic",
    "Basic ",  # found by the fuzz suite: Authlib's split found one word
    "Basic  ",
    "basic " + base64.b64encode(b"\xff:\xff").decode(),
]


@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke"])
def test_malformed_basic_credentials_are_invalid_client(flow, rp, path) -> None:
    data = {"grant_type": "authorization_code", "code": "x", "redirect_uri": rp.redirect_uri, "token": "x"}
    for header in MALFORMED:
        response = flow.client.post(path, data=data, headers={"Authorization": header})
        assert response.status_code == 401, (header[:40], response.status_code, response.get_data(as_text=True)[:200])
        assert response.get_json()["error"] == "invalid_client", header[:40]
