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
from typing import Any

#: The ``prev_hash`` of the first event of every chain.
GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, non-ASCII written as itself, no NaN: one text for one value, in every writer."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


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


def event_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical_json(body)}".encode()).hexdigest()
