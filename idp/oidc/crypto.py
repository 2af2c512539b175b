"""Random secrets of the OpenID Provider and how they are stored.

Client secrets, authorization codes, access and refresh tokens are all 256-bit values drawn from :mod:`secrets` by
the IdP itself. They are stored as plain SHA-256 digests, not argon2: a slow hash protects *guessable* secrets
(passwords) against offline guessing, but nobody can enumerate 2^256 candidates whatever the hash costs, while
argon2 would add about 28 ms of CPU to every token request (the election's hot path). The digest is also an
index: a presented token is found with one lookup, then compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: Bytes of entropy of every secret the provider issues.
SECRET_BYTES = 32


def new_secret() -> str:
    """A URL-safe 256-bit random string (43 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def new_identifier(nbytes: int = 16) -> str:
    """A random identifier (jti, grant id, sid, transaction id): unguessable but not a credential."""
    return secrets.token_urlsafe(nbytes)


def digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def secret_matches(presented: str, stored_digest: bytes) -> bool:
    return hmac.compare_digest(digest(presented), stored_digest)


class KeyCipher:
    """Encrypts private JWKs at rest with AES-256-GCM under a key derived from ``IDP_KEY_ENCRYPTION_KEY``.

    The key id is the associated data, so a ciphertext moved to another row does not decrypt.
    """

    NONCE_BYTES = 12

    def __init__(self, secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"idp oidc signing keys").derive(
            secret.encode()
        )
        self._aead = AESGCM(key)

    def encrypt(self, kid: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(self.NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, kid.encode())

    def decrypt(self, kid: str, blob: bytes) -> bytes:
        nonce, ciphertext = blob[: self.NONCE_BYTES], blob[self.NONCE_BYTES :]
        return self._aead.decrypt(nonce, ciphertext, kid.encode())


def development_key_encryption_key(secret_key: str) -> str:
    """The key-encryption key used in development and tests when none is configured: derived from SECRET_KEY in
    a domain of its own (production refuses this fallback)."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"idp dev key-encryption key").derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(derived).decode()
