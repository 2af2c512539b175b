"""Encryption at rest of outbox payloads (recipient, subject, body) with Fernet (AES-CBC + HMAC).

The key is derived from ``IDP_SECRET_KEY`` with HKDF, in a domain of its own, so that a copy of the database alone
does not reveal the addresses or the one-time links of messages not yet delivered.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


@dataclass(frozen=True)
class Message:
    channel: str  # "email" | "sms"
    recipient: str
    subject: str
    body: str


def fernet_for(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"idp outbox payload").derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(fernet: Fernet, message: Message) -> bytes:
    return fernet.encrypt(json.dumps(asdict(message)).encode())


def unseal(fernet: Fernet, token: bytes) -> Message:
    return Message(**json.loads(fernet.decrypt(token)))
