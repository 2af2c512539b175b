"""The voter's receipt: the ballot's tracking code, which the voter looks up on the scrutin's public board.

It must survive the loss of the ephemeral store (a Redis restart during the vote) without the database linking a
voter to a ballot. So the émargement keeps it sealed: ChaCha20-Poly1305 under the receipt key
(``PORTAL_RECEIPT_KEY``, or a key derived from ``PORTAL_SECRET_KEY``), with the scrutin and the voter as associated
data. The key lives in the portal's configuration, never in the database: a copy of the database alone shows who
voted, not which ballot is whose. Whoever holds both the database and the key links a voter to a ciphertext, which
still says nothing of the choice without k trustees (docs: auditors, "The ballot box").
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

_DERIVATION_LABEL = b"portail-elections/receipt-key/v1"
_NONCE = 12


def receipt_key(config: Mapping[str, Any]) -> bytes:
    explicit = config.get("RECEIPT_KEY")
    if explicit:
        return hashlib.sha256(_DERIVATION_LABEL + str(explicit).encode()).digest()
    secret = config.get("SECRET_KEY")
    if not secret:
        raise ValueError("PORTAL_RECEIPT_KEY or PORTAL_SECRET_KEY is needed to seal receipts")
    return hmac.new(str(secret).encode(), _DERIVATION_LABEL, hashlib.sha256).digest()


def _associated(scrutin_id: int, voter_identifier: str) -> bytes:
    return f"{scrutin_id}|{voter_identifier}".encode()


def seal(key: bytes, scrutin_id: int, voter_identifier: str, tracking_code: bytes) -> bytes:
    nonce = secrets.token_bytes(_NONCE)
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, tracking_code, _associated(scrutin_id, voter_identifier))


def unseal(key: bytes, scrutin_id: int, voter_identifier: str, sealed: bytes | None) -> bytes | None:
    """The tracking code, or None (no receipt kept, or sealed with another key)."""
    if not sealed or len(sealed) <= _NONCE:
        return None
    try:
        return ChaCha20Poly1305(key).decrypt(
            sealed[:_NONCE], sealed[_NONCE:], _associated(scrutin_id, voter_identifier)
        )
    except InvalidTag:
        return None
