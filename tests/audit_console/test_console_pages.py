"""The console's pages without the IdP in the loop (the sign-in has its own end-to-end tests): keyset pagination
that neither repeats nor skips an event, the filters, the token view, the verification banner with seals, the
read-only connection, and the access rules."""

from __future__ import annotations

import datetime as dt
import html
import re
import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError

from audit_console.filters import PARIS
from idp.audit.seal import seal
from idp.audit.sealkey import load_private_key
from idp.auditors.accounts import add_auditor
from idp.db import get_db
from idp.models import AuditEvent, Voter
from infra.db import get_db as get_console_db
from infra.db import read_only_engine
from tests.idp.audit.helpers import SealKey, chain_events, record_events, rewrite_chain
from tests.oidc_helpers import make_client


def signed_in(app: Flask, console: Flask, email: str = "claude.lecture@audit.example.fr") -> FlaskClient:
    """A console client whose session holds an auditor account of the IdP (as the sign-in leaves it)."""
    with app.app_context(), get_db(app).transaction() as session:
        account = add_auditor(session, email, "Claude Lecture")
        sub, epoch = account.subject, account.session_epoch
    client = console.test_client()
    with client.session_transaction() as state:
        state["auditor"] = {
            "sub": sub,
            "name": "Claude Lecture",
            "epoch": epoch,
            "signed_in_at": time.time(),
            "id_token": "x",
        }
    return client


def positions_on(page: str) -> list[tuple[int, int]]:
    return [(int(c), int(s)) for c, s in re.findall(r'title="empreinte [0-9a-f]{64}">(\d+) · (\d+)<', page)]


def next_link(page: str) -> str | None:
    match = re.search(r'<a [^>]*href="([^"]+)" rel="next">', page)
    return html.unescape(match.group(1)) if match else None


def test_keyset_pagination_walks_every_event_once_newest_first(app, make_console):
    record_events(app, 23, chains=3)
    console = make_console(PAGE_SIZE=5)
    client = signed_in(app, console)
    seen: list[tuple[int, int]] = []
    url: str | None = "/journal?type=login.succeeded"
    pages = 0
    while url:
        page = client.get(url)
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        seen.extend(positions_on(body))
        url = next_link(body)
        pages += 1
        if url:
            assert "apres=" in url and "type=login.succeeded" in url, "the filters travel with the cursor"
    assert pages == 5 and len(seen) == 23 and len(set(seen)) == 23
    with get_db(app).transaction() as session:
        newest_first = session.execute(
            select(AuditEvent.chain, AuditEvent.seq)
            .where(AuditEvent.type == "login.succeeded")
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        ).all()
    assert seen == [tuple(row) for row in newest_first]
    # Events appended while reading do not shift the next page (a cursor, not an offset).
    first = client.get("/journal?type=login.succeeded").get_data(as_text=True)
    second_url = next_link(first)
    assert second_url
    record_events(app, 4, chains=3, start=100)
    assert positions_on(client.get(second_url).get_data(as_text=True)) == seen[5:10]


def test_filters_by_type_subject_client_and_time(app, make_console):
    record_events(app, 3)
    record_events(app, 2, type="logout", start=10)
    with app.app_context(), get_db(app).transaction() as session:
        from idp.audit import record

        record(session, "token.introspected", subject="sujet-fictif-1", client_id="ressource-fictive", active=True)
    client = signed_in(app, make_console())
    body = client.get("/journal?type=logout").get_data(as_text=True)
    assert len(positions_on(body)) == 2 and "login.succeeded</code>" not in body
    body = client.get("/journal?sujet=sujet-fictif-1").get_data(as_text=True)
    assert len(positions_on(body)) == 2 and "sujet-fictif-2" not in body
    body = client.get("/journal?client=ressource-fictive").get_data(as_text=True)
    assert len(positions_on(body)) == 1 and "token.introspected" in body
    # Time range in Paris time, "fin" excluded: nothing before the first event, everything in a wide window.
    with get_db(app).transaction() as session:
        first, last = session.execute(select(func.min(AuditEvent.occurred_at), func.max(AuditEvent.occurred_at))).one()
    paris = lambda instant: instant.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M:%S")  # noqa: E731
    body = client.get(f"/journal?fin={paris(first)}").get_data(as_text=True)
    assert positions_on(body) == []
    body = client.get(f"/journal?debut={paris(first)}&fin={paris(last + dt.timedelta(seconds=1))}").get_data(
        as_text=True
    )
    assert len(positions_on(body)) == 7  # 5 records, the introspection and the auditor's creation
    refused = client.get("/journal?debut=demain&apres=n'importe-quoi")
    assert refused.status_code == 400
    text_ = html.unescape(refused.get_data(as_text=True))
    assert "Du : date et heure attendues" in text_ and "Lien de page non reconnu" in text_


def test_token_view_joins_the_log_and_the_token_table(app, make_console):
    from tests.helpers import AuthActions, VoterFactory
    from tests.oidc_helpers import Flow, install_keys

    install_keys(app)
    rp = make_client(app, client_name="Application fictive", first_party=False)
    voter = VoterFactory(app).create()
    browser = app.test_client()
    flow = Flow(app, browser, AuthActions(browser))
    issued = flow.tokens(rp, voter)
    refreshed = flow.refresh(rp, issued["refresh_token"])
    assert refreshed.status_code == 200
    client = signed_in(app, make_console())
    body = html.unescape(client.get("/jetons").get_data(as_text=True))
    assert "Renouvelé" in body and "Émis" in body and rp.client_id in body
    assert "renouvelé" in body, "the first refresh token is shown as rotated"
    with get_db(app).transaction() as session:
        pairwise = session.execute(select(Voter.subject).where(Voter.id == voter.id)).scalar_one()
        from idp.oidc.models import OidcToken

        client_subject = (
            session.execute(select(OidcToken.subject).where(OidcToken.voter_id == voter.id)).scalars().first()
        )
        jti = session.execute(select(OidcToken.jti).where(OidcToken.kind == "access")).scalars().first()
    assert client_subject != pairwise, "a third-party client knows the voter by a pairwise subject"
    assert f"sujet chez le client <code>{client_subject}</code>" in body
    for token in (issued["access_token"], issued["refresh_token"], refreshed.get_json()["access_token"]):
        assert token not in body
    # Filter by the pairwise subject a client knows, by the IdP's subject, and by jti.
    by_pairwise = html.unescape(client.get(f"/jetons?sujet={client_subject}").get_data(as_text=True))
    assert by_pairwise.count("<tr>") == body.count("<tr>")
    assert f"<code>{pairwise}</code>" in by_pairwise
    by_jti = html.unescape(client.get(f"/jetons?jeton={jti}").get_data(as_text=True))
    assert jti in by_jti and by_jti.count("<tr>") < body.count("<tr>")


def test_verification_banner_with_seals(app, make_console, seal_key: SealKey):
    record_events(app, 6, chains=1)
    target = chain_events(app, 0)[1]  # sealed below: chain 0 then ends at seq 6
    with app.app_context(), get_db(app).transaction() as session:
        seal(session, load_private_key(seal_key.private), issuer="http://127.0.0.1:9")
    client = signed_in(app, make_console())
    page = client.get("/journal")
    assert "pas encore été vérifié" in html.unescape(page.get_data(as_text=True))
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert csrf
    done = client.post("/verification", data={"csrf_token": csrf.group(1), "next": "/jetons?type=token.issued"})
    assert done.status_code == 303 and done.headers["Location"] == "/jetons?type=token.issued"
    ok = html.unescape(client.get("/journal").get_data(as_text=True))
    assert "Chaînes intègres" in ok and "1 scellement(s) enregistré(s) sont vérifiés (dernier : n° 1)" in ok
    # Rewrite a sealed event and recompute the later hashes: the chains verify, the seal does not.
    rewrite_chain(app, 0, target.seq, '{"rang":99}')
    client.post("/verification", data={"csrf_token": csrf.group(1)})
    ko = html.unescape(client.get("/journal").get_data(as_text=True))
    assert "Chaînes intègres" in ko and "Scellements : échec" in ko and "événement scellé réécrit" in ko
    assert 'role="alert"' in ko
    # Tampering without recomputing: the chain itself is named.
    with get_db(app).transaction() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == target.id).values(data='{"rang":98}'))
    client.post("/verification", data={"csrf_token": csrf.group(1)})
    damaged = html.unescape(client.get("/journal").get_data(as_text=True))
    assert f"l'événement n° {target.id}" in damaged and "est altéré" in damaged
    # A POST without the CSRF token is refused and runs nothing.
    assert client.post("/verification").status_code == 400


def test_verification_result_is_shared_by_the_processes(app, backend, make_console):
    """Two processes of the console share one store (Redis, or the console's own database): both show the result."""
    first, second = make_console(), make_console()
    client = signed_in(app, first)
    page = client.get("/journal").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    client.post("/verification", data={"csrf_token": csrf.group(1)})
    other = second.test_client()
    with client.session_transaction() as state:
        auditor = dict(state["auditor"])
    with other.session_transaction() as state:
        state["auditor"] = auditor
    shown = html.unescape(other.get("/journal").get_data(as_text=True))
    assert "Chaînes intègres" in shown, "another process shows the result kept in the shared store"


def test_the_console_connection_refuses_every_write(app, make_console, backend):
    console = make_console()
    engine = get_console_db(console).engine
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(AuditEvent)).scalar_one() >= 0
    for statement in (
        "DELETE FROM audit_event",
        "UPDATE voter SET role = 'auditor'",
        "INSERT INTO audit_seal (counter, sealed_at, key_id, document) VALUES (1, CURRENT_TIMESTAMP, 'k', 'd')",
    ):
        with pytest.raises((OperationalError, DBAPIError)) as refused, engine.begin() as connection:
            connection.execute(text(statement))
        message = str(refused.value).lower()
        assert "readonly" in message or "read-only" in message or "read only" in message, message
    if backend.name == "sqlite":
        missing = read_only_engine(backend.database_url.replace("idp.sqlite3", "absent.sqlite3"))
        with pytest.raises(OperationalError):
            missing.connect()
        missing.dispose()


def test_access_rules(app, make_console):
    console = make_console()
    anonymous = console.test_client()
    health = anonymous.get("/healthz")
    assert health.status_code == 200
    assert health.get_json() == {"status": "ok", "checks": {"database": "ok", "store": "ok"}}
    home = anonymous.get("/")
    assert home.status_code == 200 and "Se connecter" in home.get_data(as_text=True)
    assert anonymous.get("/journal?type=logout").headers["Location"] == "/connexion?next=/journal?type%3Dlogout"
    assert anonymous.post("/verification").status_code == 400
    client = signed_in(app, console)
    response = client.get("/journal")
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    # A session whose account became a voter (or any non-auditor) is refused, in French, and forgotten.
    with get_db(app).transaction() as session:
        session.execute(
            update(Voter).values(
                role="voter",
                birth_date=dt.date(1980, 1, 1),
                birthplace="21231",
                academie="exemple",
                numen_hash=bytes(32),
                nir_hash=bytes(32),
            )
        )
    refused = client.get("/journal")
    assert refused.status_code == 403 and "Accès refusé" in html.unescape(refused.get_data(as_text=True))
    assert client.get("/journal").status_code == 302
    # An expired sign-in goes back to the IdP.
    late = signed_in(app, console, "dominique.tardif@audit.example.fr")
    with late.session_transaction() as state:
        state["auditor"] = {**state["auditor"], "signed_in_at": time.time() - 7200}
    assert late.get("/journal").status_code == 302


def test_a_cookie_copied_before_sign_out_opens_nothing_after_it(app, make_console):
    """« Se déconnecter » ends the session where it lives (the console's store), not only in this browser."""
    console = make_console()
    client = signed_in(app, console)
    page = client.get("/journal")
    assert page.status_code == 200
    cookie = client.get_cookie(console.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    copy = console.test_client()
    copy.set_cookie(cookie.key, cookie.value)
    assert copy.get("/journal").status_code == 200, "the copy works while the session lives"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert csrf
    # The IdP of these tests does not answer: the console signs out locally, and says so.
    out = client.post("/deconnexion", data={"csrf_token": csrf.group(1)})
    assert out.status_code == 302 and out.headers["Location"] == "/deconnexion/fin"
    replay = copy.get("/journal")
    assert replay.status_code == 302 and replay.headers["Location"].startswith("/connexion")
    assert client.get("/journal").status_code == 302
