"""The ES256 signing key of the provider: loaded from a PEM or JWK file, or generated at start.

FranceConnect v2 signs ID tokens and userinfo responses with ES256; so does this provider. The key id is the
RFC 7638 thumbprint (unless a JWK file names its own ``kid``), so the same key file gives the same ``kid`` in
every process and after every restart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

ALGORITHM = "ES256"
CURVE = "P-256"


class KeyFileError(ValueError):
    """The signing key file cannot be used (unreadable, not EC P-256, or public only)."""


class SigningKey:
    """A private P-256 key with its ``kid``: signs JWTs, publishes its public half."""

    def __init__(self, key: ECKey, kid: str | None = None) -> None:
        if key.curve_name != CURVE:
            raise KeyFileError(f"the signing key must be on curve {CURVE}, not {key.curve_name}")
        if not key.is_private:
            raise KeyFileError("the signing key file holds a public key only")
        self.key = key
        self.kid = kid or key.thumbprint()

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(ECKey.generate_key(CURVE, private=True))

    @classmethod
    def from_file(cls, path: str | Path) -> SigningKey:
        """Read a PEM (PKCS#8 or SEC1) or a JSON JWK file."""
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise KeyFileError(f"cannot read the signing key file {path}: {exc.strerror}") from None
        try:
            if raw.lstrip().startswith(b"{"):
                data: dict[str, Any] = json.loads(raw)
                return cls(ECKey.import_key(data), data.get("kid"))
            return cls(ECKey.import_key(raw))
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"{path} is not an EC private key in PEM or JWK form ({exc})") from None

    def public_jwk(self) -> dict[str, Any]:
        return {**self.key.as_dict(private=False), "kid": self.kid, "use": "sig", "alg": ALGORITHM}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk()]}

    def sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        return jwt.encode({"alg": ALGORITHM, "kid": self.kid, "typ": typ}, claims, self.key, algorithms=[ALGORITHM])

    def pem(self) -> bytes:
        return self.key.as_pem(private=True)


def sign_with_stranger(claims: dict[str, Any], kid: str) -> str:
    """Sign with a throw-away key under ``kid``: the *bad_signature* fault.

    With the provider's own ``kid`` the verifier finds a key that does not match the signature; with an
    unknown ``kid`` it finds none even after re-fetching the JWKS. Both must be refused by a relying party.
    """
    stranger = ECKey.generate_key(CURVE, private=True)
    return jwt.encode({"alg": ALGORITHM, "kid": kid, "typ": "JWT"}, claims, stranger, algorithms=[ALGORITHM])
