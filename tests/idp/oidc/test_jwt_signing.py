"""The provider's JWTs (:func:`idp.oidc.jwt_signing.sign`) are joserfc's ``jwt.encode`` of the same header and
claims: the same header and payload bytes for every algorithm the provider signs with (the whole token for RS256,
whose signature is deterministic; ECDSA draws its own at random), a signature joserfc verifies, and the same refusal
of a key that does not fit the algorithm."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from joserfc import jwt
from joserfc.errors import InvalidKeyTypeError

from idp.oidc import jwt_signing
from idp.oidc.keys import KeyManager, generate
from idp.oidc.models import SIGNING_ALGS
from idp.oidc.provider import Provider

CLAIMS: dict[str, Any] = {
    "iss": "https://idp.exemple.fr",
    "sub": "sujet-fictif",
    "aud": "portail-fictif",
    "iat": 1_800_000_000,
    "exp": 1_800_000_300,
    "amr": ["pwd", "otp"],
    "given_name": 'Zoé "guillemets" \\ \U0001f5f3',
    "events": {jwt_signing.BACKCHANNEL_LOGOUT_EVENT: {}},
}


def _provider() -> Provider:
    """A provider as far as signing with a given key goes (neither its keys' store nor a session is used)."""
    return cast(Provider, SimpleNamespace(keys=KeyManager({})))


@pytest.mark.parametrize("typ", ["JWT", "logout+jwt"])
@pytest.mark.parametrize("alg", SIGNING_ALGS)
def test_a_token_is_joserfcs_but_for_a_random_signature(alg: str, typ: str) -> None:
    key, provider = generate(alg), _provider()
    reference = jwt.encode({"alg": alg, "kid": key.kid, "typ": typ}, dict(CLAIMS), key, algorithms=[alg])
    for _ in range(2):
        signed = jwt_signing.sign(provider, cast(Any, None), alg, dict(CLAIMS), typ=typ, key=key)
        assert signed.split(".")[:2] == reference.split(".")[:2]
        if alg == "RS256":
            assert signed == reference
        token = jwt.decode(signed, key, algorithms=[alg])
        assert token.claims == CLAIMS and token.header == {"typ": typ, "alg": alg, "kid": key.kid}


def test_each_key_signs_its_own_tokens() -> None:
    first, second, provider = generate("ES256"), generate("ES256"), _provider()
    for key in (first, second, first):
        signed = jwt_signing.sign(provider, cast(Any, None), "ES256", dict(CLAIMS), key=key)
        assert jwt.decode(signed, key, algorithms=["ES256"]).header["kid"] == key.kid


def test_a_key_that_does_not_fit_the_algorithm_is_refused_as_joserfc_refuses_it() -> None:
    key = generate("ES256")
    with pytest.raises(InvalidKeyTypeError):
        jwt.encode({"alg": "RS256", "kid": key.kid}, dict(CLAIMS), key, algorithms=["RS256"])
    with pytest.raises(InvalidKeyTypeError):
        jwt_signing.sign(_provider(), cast(Any, None), "RS256", dict(CLAIMS), key=key)
