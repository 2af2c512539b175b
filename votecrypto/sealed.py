"""Shares sent from one trustee to another through the portal, readable only by the recipient.

libsodium's sealed box (X25519 + XSalsa20-Poly1305, anonymous sender): each trustee publishes a box public key with
its commitments in the first round. The sender is not authenticated by the box, and need not be: a share is accepted
only if it lies on the polynomial its dealer committed to (:func:`votecrypto.threshold.check_share`), which nobody
but the dealer can produce. The plaintext names the ceremony, the dealer and the recipient, so that a share cannot
be replayed into another ceremony or redirected to another trustee.
"""

from __future__ import annotations

from dataclasses import dataclass

import pysodium

from votecrypto import group as g

PLAINTEXT_BYTES = 32 + 4 + 4 + 32


class SealedError(ValueError):
    """A sealed share that cannot be opened, or that was meant for another ceremony, dealer or recipient."""


@dataclass(frozen=True)
class BoxKeyPair:
    public: bytes
    secret: bytes

    @classmethod
    def generate(cls) -> BoxKeyPair:
        public, secret = pysodium.crypto_box_keypair()
        return cls(bytes(public), bytes(secret))


def seal_share(ceremony: bytes, dealer: int, recipient: int, share: bytes, recipient_key: bytes) -> bytes:
    plaintext = ceremony + g.index_bytes(dealer) + g.index_bytes(recipient) + share
    return bytes(pysodium.crypto_box_seal(plaintext, recipient_key))


def open_share(ceremony: bytes, dealer: int, recipient: int, sealed: bytes, keys: BoxKeyPair) -> bytes:
    try:
        plaintext = bytes(pysodium.crypto_box_seal_open(sealed, keys.public, keys.secret))
    except ValueError:
        raise SealedError(f"the share of trustee {dealer} cannot be opened with this key") from None
    if len(plaintext) != PLAINTEXT_BYTES or plaintext[:40] != ceremony + g.index_bytes(dealer) + g.index_bytes(
        recipient
    ):
        raise SealedError(f"the share of trustee {dealer} was sealed for another ceremony or trustee")
    return plaintext[40:]
