"""Helpers of the portal tests: election documents relative to now, and a signed-in state.

``sign_in`` is the one documented shortcut of the portal tests (for page tests only): it writes the signed-in state
the callback would write — the same JSON entry, through the same store and key derivation as
``infra.sessions`` — and gives the test client the session cookie. The sign-in itself (Authlib
against the real IdP) is tested end to end in ``test_signin_live_idp.py``.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import secrets
import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from infra.sessions import entry_for, store_key
from relying_party.db import get_db
from relying_party.elections.importer import ImportReport, import_document
from relying_party.models import Scrutin
from relying_party.store import get_store

CLAIRE = "claire.jullien@ac-dijon.fr"
MARC = "marc.durand@ac-dijon.fr"
VOTE_ACR = "urn:portail-elections:acr:password+vote-code"

_CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_of(response: TestResponse) -> str:
    match = _CSRF_RE.search(response.get_data(as_text=True))
    assert match, "no CSRF token in the page"
    return match.group(1)


_CAPTCHA_ID_RE = re.compile(r'name="captcha_id" type="hidden" value="([^"]+)"')
#: The answer of the portal's CAPTCHA in tests (``CAPTCHA_BACKEND=fixed:12345``).
TEST_CAPTCHA = "12345"


def captcha_fields(response: TestResponse) -> dict[str, str]:
    """The CAPTCHA of an anonymous form, answered."""
    match = _CAPTCHA_ID_RE.search(response.get_data(as_text=True))
    assert match, "no CAPTCHA on the page"
    return {"captcha_id": match.group(1), "captcha": TEST_CAPTCHA}


def text_of(response: TestResponse) -> str:
    """The page as a voter reads it (HTML entities such as &#39; decoded)."""
    return html.unescape(response.get_data(as_text=True))


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def scrutin_entry(
    code: str,
    opens_at: dt.datetime,
    closes_at: dt.datetime,
    *,
    lists: int = 2,
    roll: dict[str, str] | None = None,
    kind: str = "csa_academique",
) -> dict[str, Any]:
    organisations = ["Syndicat fictif A", "Union imaginaire B", "Collectif exemple C", "Fédération test D"]
    return {
        "code": code,
        "label": f"Scrutin de test {code}",
        "kind": kind,
        "opens_at": opens_at.isoformat(),
        "closes_at": closes_at.isoformat(),
        "lists": [
            {
                "position": p,
                "organisation": organisations[p - 1],
                "candidates": [
                    {"civility": "Mme", "family_name": f"CANDIDATE{p}", "given_name": "Alice"},
                    {"civility": "M.", "family_name": f"CANDIDAT{p}", "given_name": "Bruno"},
                ],
            }
            for p in range(1, lists + 1)
        ],
        "roll": [
            {"identifier": k, "display_name": v}
            for k, v in (roll or {CLAIRE: "Mme JULLIEN Claire", MARC: "M. DURAND Marc Antoine"}).items()
        ],
    }


def standard_document(now: dt.datetime) -> dict[str, Any]:
    """OPEN (open a day ago, closes in seven days), OPEN2, CLOSED (closed an hour ago), FUTURE (opens tomorrow)."""
    day = dt.timedelta(days=1)
    return {
        "version": 1,
        "scrutins": [
            scrutin_entry("OPEN", now - day, now + 7 * day),
            scrutin_entry("OPEN2", now - day, now + 7 * day, lists=3, kind="csa_ministeriel"),
            scrutin_entry("CLOSED", now - 8 * day, now - dt.timedelta(hours=1)),
            scrutin_entry("FUTURE", now + day, now + 8 * day),
        ],
    }


def load(app: Flask, document: dict[str, Any], base_dir: Any = ".") -> ImportReport:
    from pathlib import Path

    report = import_document(get_db(app), document, Path(base_dir), max_pdf_bytes=app.config["MAX_PDF_BYTES"])
    assert report.ok, report.errors
    return report


def scrutin_id(app: Flask, code: str) -> int:
    with get_db(app).sessionmaker() as session:
        value = session.execute(select(Scrutin.id).where(Scrutin.code == code)).scalar_one()
    return int(value)


def list_ids(app: Flask, code: str) -> list[int]:
    from relying_party.models import CandidateList

    with get_db(app).sessionmaker() as session:
        return list(
            session.execute(
                select(CandidateList.id).join(Scrutin).where(Scrutin.code == code).order_by(CandidateList.position)
            ).scalars()
        )


def sign_in(
    client: FlaskClient,
    app: Flask,
    *,
    email: str = CLAIRE,
    given_name: str = "Claire",
    family_name: str = "Jullien",
    gender: str = "female",
    sub: str | None = None,
    idp_sid: str | None = None,
    vote_level_age: float | None = None,
) -> str:
    """Put a signed-in state in the portal's server-side session (see the module docstring); return the sid.

    ``vote_level_age``: seconds since the vote code was entered (None: the vote-code step was not done).
    """
    sid = secrets.token_urlsafe(32)
    user = {
        "sub": sub or secrets.token_hex(8),
        "email": email,
        "given_name": given_name,
        "family_name": family_name,
        "gender": gender,
        "idp_sid": idp_sid,
        "id_token": "not-a-real-id-token",
        "auth_time": int(time.time()),
        "userinfo": {
            "email": email,
            "given_name": given_name,
            "family_name": family_name,
            "birthdate": "1985-07-21",
            "academie": "dijon",
            "gender": gender,
        },
    }
    data: dict[str, Any] = {"user": user}
    if vote_level_age is not None:
        data["vote_level"] = {"acr": VOTE_ACR, "amr": ["pwd", "otp"], "auth_time": int(time.time() - vote_level_age)}
    now = time.time()
    get_store(app).set(
        store_key(sid),
        entry_for(data, now, now),
        int(app.config["SESSION_IDLE_TIMEOUT"]),
        sid=idp_sid,
        sub=user["sub"],
    )
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], sid, domain="localhost")
    return sid
