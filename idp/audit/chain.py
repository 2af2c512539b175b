"""The hash-chain format, shared by the writer, the verifier and the export.

An event's hash is SHA-256 over ``prev_hash + "\\n" + canonical JSON`` of its fields. The same computation is
documented in docs/auditors/export-format.md so that a third party can verify an export with any SHA-256 and JSON
implementation.

The functions live in the neutral :mod:`hashchain` package, which the portal's own audit log uses too (it may not
import ``idp``): both logs are then verified by one procedure. They are re-exported here under their usual names.
"""

from __future__ import annotations

from hashchain.format import GENESIS, canonical_json, event_body, event_hash, format_instant

__all__ = ["GENESIS", "canonical_json", "event_body", "event_hash", "format_instant"]
