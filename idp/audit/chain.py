"""The hash-chain format, shared by the writer, the verifier and the export.

An event's hash is SHA-256 over ``prev_hash + "\\n" + canonical JSON`` of its fields. The same computation is
documented in the README so that a third party can verify an export with any SHA-256 and JSON implementation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
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
