"""An audit event as read back from storage: checked against its own hash, and written as an export line.

Both logs (IdP and portal) read their rows into this value, so the check of an event and the export line are the
same code wherever the event was written. ``id`` is the storage handle only: it is not hashed, hence not protected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hashchain.format import canonical_json, event_body, event_hash, format_instant

#: Where the top-level ``seq`` sits in a canonical body (keys are sorted: chain, client_id, data, occurred_at, seq,
#: subject, type). Only ``data`` comes before it and may hold the same characters, hence the search from the right;
#: ``subject`` and ``type`` are JSON strings, in which a quote is always escaped, so they cannot hold the marker.
_SEQ_MARKER = '"seq":0,'


@dataclass(frozen=True, slots=True)
class ChainedEvent:
    id: int
    chain: int
    seq: int
    occurred_at: dt.datetime
    type: str
    subject: str | None
    client_id: str | None
    #: The canonical JSON text exactly as stored.
    data: str
    prev_hash: str
    hash: str

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ChainedEvent:
        """From the columns in field order (id, chain, seq, occurred_at, type, subject, client_id, data, …)."""
        return cls(*row)

    def body(self, *, seq: int | None = None) -> dict[str, Any] | None:
        """The hashed body of this event (at another position if ``seq`` is given).

        ``None`` when the stored ``data`` is not the canonical JSON of an object: writers only ever store that
        form, so anything else means the column was edited, even if the edit kept its meaning.
        """
        try:
            payload = json.loads(self.data)
        except ValueError:
            return None
        if not isinstance(payload, dict) or canonical_json(payload) != self.data:
            return None
        return event_body(
            chain=self.chain,
            seq=self.seq if seq is None else seq,
            occurred_at=self.occurred_at,
            type=self.type,
            subject=self.subject,
            client_id=self.client_id,
            data=payload,
        )

    def matches(self, *, seq: int | None = None, prev_hash: str | None = None) -> bool:
        """Whether the stored hash is the hash of this event's content (optionally at another seq or link)."""
        body = self.body(seq=seq)
        if body is None:
            return False
        return event_hash(self.prev_hash if prev_hash is None else prev_hash, body) == self.hash

    def written_seq(self, candidates: Iterable[int]) -> int | None:
        """The first candidate position at which this event's content matches its hash, if any.

        Only used to diagnose a damaged chain: an event whose hash matches at another seq was moved there intact
        (renumbered), which tells reordering and renumbering apart from an edit. The hash is resumed from a copy of
        the state after the constant prefix, so a million candidates cost well under a second.
        """
        body = self.body(seq=0)
        if body is None:
            return None
        head, marker, tail = canonical_json(body).rpartition(_SEQ_MARKER)
        assert marker, "the canonical body always holds a top-level seq"
        prefix = hashlib.sha256(f'{self.prev_hash}\n{head}"seq":'.encode())
        suffix = f",{tail}".encode()
        for seq in candidates:
            digest = prefix.copy()
            digest.update(str(seq).encode())
            digest.update(suffix)
            if digest.hexdigest() == self.hash:
                return seq
        return None

    def export_line(self) -> str:
        """The event as one line of an export (no line feed): every input of its hash, ASCII only.

        ``data`` travels as the canonical JSON *text* that was hashed, not as a nested object: re-serialising an
        object would require reproducing the writer's canonicalisation exactly, the hard part in another language.
        """
        return json.dumps(
            {
                "chain": self.chain,
                "seq": self.seq,
                "occurred_at": format_instant(self.occurred_at),
                "type": self.type,
                "subject": self.subject,
                "client_id": self.client_id,
                "data": self.data,
                "prev_hash": self.prev_hash,
                "hash": self.hash,
            },
            separators=(",", ":"),
        )
