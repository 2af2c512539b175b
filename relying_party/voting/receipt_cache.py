"""Showing the receipt after the redirect that follows a ballot, without the server learning who holds it.

The receipt is kept a few minutes in the ephemeral store so that the receipt page (and the answer to a double
click) can show it. Stored naively, "this voter's session → this receipt" next to "this receipt → this choice" in
the ballot box would link a voter to a choice for anyone reading the store. So the entry's key is a keyed hash of
the session id and the scrutin, and its value is encrypted with a key derived from the session id: the session id
lives only in the voter's cookie (the store knows only its SHA-256), so the entry can be found and read only by a
request that carries that cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

from infra.sessions import current_sid
from relying_party.store import get_store


def _session_secret() -> bytes | None:
    sid = current_sid()
    if not sid:
        return None
    return hmac.new(str(current_app.config["SECRET_KEY"]).encode(), b"receipt|" + sid.encode(), hashlib.sha256).digest()


def _key(secret: bytes, scrutin_code: str) -> str:
    return "receipt:" + hmac.new(secret, scrutin_code.encode(), hashlib.sha256).hexdigest()


def remember(scrutin_code: str, receipt: str) -> None:
    secret = _session_secret()
    if secret is None:
        return
    token = Fernet(base64.urlsafe_b64encode(secret)).encrypt(receipt.encode()).decode()
    get_store().set(_key(secret, scrutin_code), token, int(current_app.config["VOTE_LEVEL_TTL"]))


def recall(scrutin_code: str) -> str | None:
    secret = _session_secret()
    if secret is None:
        return None
    token = get_store().get(_key(secret, scrutin_code))
    if token is None:
        return None
    try:
        return Fernet(base64.urlsafe_b64encode(secret)).decrypt(token.encode()).decode()
    except InvalidToken:
        return None
