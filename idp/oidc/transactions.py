"""Requests kept server side across screens: an authorization request waiting for the voter to sign in (or step
up, or consent), and an RP-initiated logout waiting for confirmation.

They live in the ephemeral store under a random id that travels in the URL (``/authorize/resume?tx=...``); nothing
of the request itself goes through the browser again. Completing an authorization ``take``s it, so a transaction
yields at most one code even if its resume URL is replayed; the same store call leaves its parameters for
:data:`COMPLETED_KEPT` seconds (:func:`completed`), so that a twin of the request that completed it (a sign-in form
submitted twice, whose second answer is the one the browser shows) can send the browser to the same authorization
request again instead of « Demande expirée »: a new request, answered by its own session, with a code of its own.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from werkzeug.datastructures import MultiDict

from idp.oidc.crypto import new_identifier
from idp.store import get_store
from infra.store.interface import Entry

#: At most this many parameters, each at most this long, are kept (a request is not a storage service).
MAX_PARAMETERS = 60
MAX_VALUE_LENGTH = 8192
MAX_ID_LENGTH = 64
#: Seconds a completed authorization request's parameters stay known (:func:`completed`): a twin POST of the screen
#: that completed it arrives within a few seconds.
COMPLETED_KEPT = 30


def params_of(values: MultiDict[str, str]) -> dict[str, list[str]]:
    """Request parameters with their repetitions (duplicates are refused later, they must not vanish here)."""
    params: dict[str, list[str]] = {}
    for key in list(values.keys())[:MAX_PARAMETERS]:
        params[key[:100]] = [v[:MAX_VALUE_LENGTH] for v in values.getlist(key)]
    return params


class StoredPayload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, params: dict[str, list[str]]) -> None:
        self._datalist = {k: list(v) for k, v in params.items()}
        self._data = {k: v[0] for k, v in params.items() if v}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class StoredRequest(OAuth2Request):  # type: ignore[misc]
    """An :class:`OAuth2Request` rebuilt from kept parameters (Authlib validates it like a live one)."""

    def __init__(self, method: str, uri: str, params: dict[str, list[str]], headers: Any = None) -> None:
        super().__init__(method, uri, headers=headers or {})
        self.payload = StoredPayload(params)
        self._args = self.payload.data

    @property
    def args(self) -> dict[str, str]:
        return dict(self.payload.data)

    @property
    def form(self) -> dict[str, str]:
        return dict(self.payload.data)


@dataclass
class Transaction:
    kind: str  # "authorize" | "logout"
    params: dict[str, list[str]]
    id: str = field(default_factory=lambda: new_identifier(24))
    created: float = field(default_factory=time.time)
    #: The voter accepted the consent screen within this transaction (prompt=consent is then satisfied).
    consent_given: bool = False

    def first(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None


def _key(kind: str, tx_id: str) -> str:
    return f"oidc:tx:{kind}:{tx_id}"


def save(tx: Transaction, ttl: int) -> Transaction:
    get_store().set(_key(tx.kind, tx.id), json.dumps(asdict(tx)), ttl)
    return tx


def _valid(tx_id: Any) -> bool:
    return isinstance(tx_id, str) and bool(tx_id) and len(tx_id) <= MAX_ID_LENGTH


def load(kind: str, tx_id: Any) -> Transaction | None:
    if not _valid(tx_id):
        return None
    raw = get_store().get(_key(kind, tx_id))
    if raw is None:
        return None
    data = json.loads(raw)
    return Transaction(**data)


def take(kind: str, tx_id: str) -> bool:
    """Complete a transaction: True for exactly one caller."""
    return get_store().take(_key(kind, tx_id)) is not None


def complete(tx: Transaction) -> bool:
    """Complete a transaction, leaving its parameters for :func:`completed` (same store call): True for exactly one
    caller."""
    mark = Entry(_key(f"{tx.kind}:completed", tx.id), json.dumps(tx.params), COMPLETED_KEPT)
    return get_store().take(_key(tx.kind, tx.id), leaving=mark) is not None


def completed(kind: str, tx_id: Any) -> dict[str, list[str]] | None:
    r"""The parameters of a transaction :func:`complete`\ d less than :data:`COMPLETED_KEPT` seconds ago, or None."""
    if not _valid(tx_id):
        return None
    raw = get_store().get(_key(f"{kind}:completed", tx_id))
    return None if raw is None else dict(json.loads(raw))


def update(tx: Transaction, ttl: int) -> None:
    """Save a changed transaction without extending its life."""
    left = max(1, int(tx.created + ttl - time.time()))
    get_store().set(_key(tx.kind, tx.id), json.dumps(asdict(tx)), left)
