"""Hash chains of audit events: one implementation of the audit log for the IdP and the portal.

A neutral package (it imports none of the applications): the format of an event and its hash (:mod:`hashchain.format`,
:mod:`hashchain.event`, standard library only), appending inside the caller's transaction (:mod:`hashchain.append`),
verification naming the first event altered, removed or reordered (:mod:`hashchain.verify`), the heads of the chains
(:mod:`hashchain.heads`), the JSON-lines export (:mod:`hashchain.export`) and the shared parts of the ``audit``
commands (:mod:`hashchain.cli`). Each application describes its own table, vocabulary and lock key space with an
:class:`EventLog` and keeps its model, its migrations and its event types; the one documented third-party procedure
(``tools/verify_audit_export.py``, which imports nothing of the project) verifies every log's export.
"""

from __future__ import annotations

from hashchain.append import DEFAULT_CHAINS, append, append_alone
from hashchain.event import ChainedEvent
from hashchain.export import ExportFilter, export_lines, export_to_file, parse_instant, write_export
from hashchain.format import GENESIS, canonical_json, event_body, event_hash, format_instant
from hashchain.heads import ChainHead, read_heads
from hashchain.log import EventLog, Source
from hashchain.verify import Problem, ProblemKind, VerifyReport, verify

__all__ = [
    "DEFAULT_CHAINS",
    "GENESIS",
    "ChainHead",
    "ChainedEvent",
    "EventLog",
    "ExportFilter",
    "Problem",
    "ProblemKind",
    "Source",
    "VerifyReport",
    "append",
    "append_alone",
    "canonical_json",
    "event_body",
    "event_hash",
    "export_lines",
    "export_to_file",
    "format_instant",
    "parse_instant",
    "read_heads",
    "verify",
    "write_export",
]
