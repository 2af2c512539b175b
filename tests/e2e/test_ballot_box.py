"""The encrypted ballot box seen from outside: a voter votes in chromium (the page encrypts the choice), and after
every ballot the database files — SQLite's main file and write-ahead log, or a PostgreSQL dump — are copied and
searched: no choice in any readable form; the browser never even sent one. Then two of the three trustees count
the box and find the choices that were made (the ciphertexts do hold them, for k trustees together)."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import subprocess
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import update

from relying_party.db import get_db
from relying_party.elections.tally import tally
from relying_party.models import Scrutin, utcnow
from tests.e2e import journey
from tests.e2e.browser import Screens
from tests.e2e.servers import Suite
from tests.relying_party.voting import trustee_decrypt
from votecrypto import group as g

#: What the voter chooses (the option's label on the ballot page), per scrutin.
CHOICES = {"OPEN": "Liste n° 2 : Union imaginaire B", "OPEN2": "Liste n° 3 : Collectif exemple C"}


def _vote(page: Page, screens: Screens, scrutin: str, label: str) -> str:
    journey.heading(page, "Bulletin de vote")
    journey.choose(page, label)
    page.get_by_role("button", name="Valider mon choix").click()
    journey.heading(page, "Confirmation de votre vote")
    expect(page.get_by_role("status")).to_contain_text(label)
    page.get_by_role("button", name="Voter", exact=True).click()
    journey.heading(page, "Votre vote a été enregistré")
    screens.check(f"recu-{scrutin.lower()}")
    return page.locator(".receipt-code").inner_text()


def _snapshot(suite: Suite, folder: Path) -> list[Path]:
    """Copies of the portal's database files as someone holding them would take them."""
    folder.mkdir(parents=True)
    url = str(suite.portal_app.config["DATABASE_URL"])
    if url.startswith("sqlite"):
        main = Path(url.split("///", 1)[1])
        copies = []
        for source in (main, main.with_name(main.name + "-wal")):
            if source.exists():
                copies.append(Path(shutil.copy(source, folder / source.name)))
        return copies
    dump = folder / "portal.sql"
    done = subprocess.run(
        ["pg_dump", "--no-owner", "--dbname", url.replace("postgresql+psycopg://", "postgresql://")],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    dump.write_bytes(done.stdout)
    return [dump]


def _no_choice_in(files: list[Path], chosen: list[str]) -> None:
    for path in files:
        content = path.read_bytes()
        for label in chosen:
            # As the confirmation showed it, or as a form would have sent it.
            for form in (label, label.encode().hex(), "choix=", '"choix"'):
                needle = form.encode() if isinstance(form, str) else form
                assert needle not in content, f"{form!r} found in {path.name}"


def _ciphertexts_only(files: list[Path], count: int) -> None:
    """The box holds ballots as pairs of group elements, none of them an unencrypted 0 or 1."""
    main = next(p for p in files if p.name.endswith(".sqlite3"))
    with sqlite3.connect(main) as conn:  # reads the copied write-ahead log beside it
        columns = [row[1] for row in conn.execute("PRAGMA table_info(portal_ballot)")]
        rows = conn.execute("SELECT ciphertexts FROM portal_ballot").fetchall()
    assert columns == ["tracking_code", "scrutin_id", "ciphertexts", "proofs", "mixed"]
    assert len(rows) == count
    for (ciphertexts,) in rows:
        for i in range(0, len(ciphertexts), 64):
            alpha, beta = ciphertexts[i : i + 32], ciphertexts[i + 32 : i + 64]
            assert g.is_point(alpha) and g.is_point(beta)
            assert alpha != g.IDENTITY and beta not in (g.IDENTITY, g.BASE)


def test_a_vote_in_chromium_leaves_no_choice_in_the_database_files(
    suite: Suite, page: Page, screens: Screens, tmp_path: Path
) -> None:
    posted: list[str] = []
    page.on(
        "request", lambda r: posted.append(r.post_data or "") if r.method == "POST" and "/bulletin" in r.url else None
    )
    journey.sign_in(page, screens, suite)
    journey.je_vote(page, screens, "OPEN")
    journey.vote_code_step(page, screens, suite.vote_code)
    chosen: list[str] = []
    for rank, (scrutin, label) in enumerate(CHOICES.items(), start=1):
        if rank > 1:
            page.goto(f"{suite.portal_url}/je-vote/{scrutin}")  # the vote-code level is still fresh
        _vote(page, screens, scrutin, label)
        chosen.append(label)
        files = _snapshot(suite, tmp_path / f"after-{rank}")
        _no_choice_in(files, chosen)
        if suite.portal_app.config["DATABASE_URL"].startswith("sqlite"):
            _ciphertexts_only(files, rank)
    # The browser sent the encrypted ballot and the CSRF token: never the choice.
    assert len(posted) == 2
    for body in posted:
        assert body.startswith("csrf_token=") and "&ballot=" in body
        assert "choix" not in body and not any(label.split(" : ")[1].replace(" ", "+") in body for label in chosen)

    # After the closing, two of the three trustees find the totals: the ciphertexts did hold the choices.
    with get_db(suite.portal_app).transaction() as session:
        session.execute(
            update(Scrutin).values(
                opens_at=utcnow() - dt.timedelta(days=2), closes_at=utcnow() - dt.timedelta(minutes=1)
            )
        )
    _, request = tally(get_db(suite.portal_app), "OPEN", utcnow())
    partials = [trustee_decrypt(suite.portal_app, request, t.key_file) for t in suite.trustees[1:]]
    state, _ = tally(get_db(suite.portal_app), "OPEN", utcnow(), partials=partials)
    assert state.lines is not None and [line.votes for line in state.lines] == [0, 1, 0]
