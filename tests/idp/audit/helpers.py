"""Helpers of the audit-log tests: the ``idp`` command, events recorded in bulk, a chain read back, and the
tampering an attacker with write access would do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import Result
from flask import Flask
from sqlalchemy import select, update

from hashchain import GENESIS, event_hash
from hashchain import ChainedEvent as StoredEvent
from idp.audit import record
from idp.audit.log import COLUMNS
from idp.cli import main
from idp.db import get_db
from idp.models import AuditEvent


def cli(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(main, list(args))


def record_events(
    app: Flask, count: int, *, chains: int = 1, type: str = "login.succeeded", start: int = 0, **extra: Any
) -> None:
    for rank in range(start, start + count):
        with app.app_context(), get_db(app).transaction() as session:
            record(session, type, subject=f"sujet-fictif-{rank}", chains=chains, rang=rank, **extra)


def chain_events(app: Flask, chain: int = 0) -> list[StoredEvent]:
    with get_db(app).transaction() as session:
        rows = session.execute(select(*COLUMNS).where(AuditEvent.chain == chain).order_by(AuditEvent.seq))
        return [StoredEvent.from_row(row) for row in rows]


def rewrite_chain(app: Flask, chain: int, seq: int, data: str) -> None:
    """What an attacker with write access does: change the event at ``seq`` and recompute every later hash, so
    that the chain verifies again."""
    events = chain_events(app, chain)
    previous = GENESIS
    with get_db(app).transaction() as session:
        for event in events:
            if event.seq >= seq:
                changed = StoredEvent(
                    event.id,
                    event.chain,
                    event.seq,
                    event.occurred_at,
                    event.type,
                    event.subject,
                    event.client_id,
                    data if event.seq == seq else event.data,
                    previous,
                    "",
                )
                body = changed.body()
                assert body is not None
                digest = event_hash(previous, body)
                session.execute(
                    update(AuditEvent)
                    .where(AuditEvent.id == event.id)
                    .values(data=changed.data, prev_hash=previous, hash=digest)
                )
                previous = digest
            else:
                previous = event.hash


@dataclass(frozen=True)
class SealKey:
    """A seal key pair written to files, as ``idp audit seal`` and the verifiers take it."""

    private: Path
    public: Path

    @property
    def public_pem(self) -> str:
        return self.public.read_text(encoding="ascii")
