"""The hash-chain format of the suite's audit logs: what is hashed, and how.

An event's hash is SHA-256 over ``prev_hash + "\\n" + canonical JSON`` of its body (chain, seq, occurred_at, type,
subject, client_id, data). docs/auditors/export-format.md states the same
computation so that a third party can check an export with any SHA-256 and JSON implementation, and
``tools/verify_audit_export.py`` implements it with the standard library alone. The IdP's log and the portal's log
both write through these functions: one procedure verifies both.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from json.encoder import encode_basestring
from typing import Any

#: The ``prev_hash`` of the first event of every chain.
GENESIS = "0" * 64


#: The encoder of :func:`canonical_json`, built once: ``json.dumps`` with these options builds the same one per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, non-ASCII written as itself, no NaN: one text for one value, in every writer."""
    return _CANONICAL.encode(value)


def _scalar(value: Any) -> str:
    """:func:`canonical_json` of a value inside an object: a string and an integer spelt by the encoder's own
    functions without going through it, anything else through it."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return int.__repr__(value)
    return _CANONICAL.encode(value)


def format_instant(instant: dt.datetime) -> str:
    """ISO 8601 in UTC with microseconds and a ``Z``: one spelling for every database."""
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_body(
    *,
    chain: int,
    seq: int,
    occurred_at: dt.datetime,
    type: str,
    subject: str | None,
    client_id: str | None,
    data: dict[str, Any],
) -> dict[str, Any]:
    """The hashed fields of an event (``prev_hash`` is hashed too, in front of this body)."""
    return {
        "chain": chain,
        "seq": seq,
        "occurred_at": format_instant(occurred_at),
        "type": type,
        "subject": subject,
        "client_id": client_id,
        "data": data,
    }


def event_body_text(
    *,
    chain: int,
    occurred_at: dt.datetime,
    type: str,
    subject: str | None,
    client_id: str | None,
    data: str,
) -> tuple[str, str]:
    """The canonical JSON of :func:`event_body` put together from its parts, ``data`` given as the canonical JSON
    text of the event's data, and cut around the value of ``seq``: ``before + str(seq) + after`` is
    ``canonical_json(event_body(..., seq=seq, data=json.loads(data)))``. The keys in their sorted order, each value
    spelt as :func:`canonical_json` spells it inside an object, ``data`` inserted as it is (the procedure of
    docs/auditors/export-format.md and ``tools/verify_audit_export.py``): the writers serialise an event's data
    once instead of again inside its body."""
    before = (
        f'{{"chain":{_scalar(chain)},"client_id":{_scalar(client_id)},"data":{data},'
        f'"occurred_at":{_scalar(format_instant(occurred_at))},"seq":'
    )
    return before, f',"subject":{_scalar(subject)},"type":{_scalar(type)}}}'


def text_hash(prev_hash: str, body_text: str) -> str:
    """The hash of an event whose body's canonical JSON is ``body_text``."""
    return hashlib.sha256(f"{prev_hash}\n{body_text}".encode()).hexdigest()


def event_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return text_hash(prev_hash, canonical_json(body))
