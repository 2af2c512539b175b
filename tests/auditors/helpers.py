"""Helpers of the auditors' tests: the ``idp`` command, a browser for the live servers, and log tampering."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from click.testing import Result
from flask import Flask
from sqlalchemy import select, update

from idp.audit import record
from idp.audit.chain import GENESIS, event_hash
from idp.audit.stored import COLUMNS, StoredEvent
from idp.cli import main
from idp.db import get_db
from idp.models import AuditEvent

AUDITOR = "camille.controle@audit.example.fr"
AUDITOR_PASSWORD = "une phrase de passe d'auditeur 2027"


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


_FORM_RE = re.compile(r"<form([^>]*)>(.*?)</form>", re.S)
_ATTR_RE = re.compile(r'([a-z-]+)="([^"]*)"')
_INPUT_RE = re.compile(r"<input([^>]*)>")


class Browser:
    """A browser as far as these pages need one: cookies, redirects, and forms with their hidden fields."""

    def __init__(self) -> None:
        self.http = requests.Session()

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.http.get(url, timeout=30, **kwargs)

    def submit(
        self, page: requests.Response, action_prefix: str | None, fields: dict[str, str], **kwargs: Any
    ) -> requests.Response:
        """Post the form of ``page`` whose action path starts with ``action_prefix`` (None: the form without an
        action, which posts to the page itself), hidden fields included."""
        for match in _FORM_RE.finditer(page.text):
            attrs = dict(_ATTR_RE.findall(match.group(1)))
            if attrs.get("method", "get").lower() != "post":
                continue
            action = html.unescape(attrs["action"]) if "action" in attrs else None
            if action_prefix is None and action is not None:
                continue
            if action_prefix is not None and (action is None or not urlsplit(action).path.startswith(action_prefix)):
                continue
            data: dict[str, str] = {}
            for tag in _INPUT_RE.findall(match.group(2)):
                input_attrs = dict(_ATTR_RE.findall(tag))
                if input_attrs.get("type") == "hidden" and "name" in input_attrs:
                    data[input_attrs["name"]] = html.unescape(input_attrs.get("value", ""))
            data.update(fields)
            return self.http.post(urljoin(page.url, action or page.url), data=data, timeout=30, **kwargs)
        raise AssertionError(f"no form posting to {action_prefix} on {page.url}:\n{page.text[:2000]}")


def text_of(response: requests.Response) -> str:
    return html.unescape(response.text)
