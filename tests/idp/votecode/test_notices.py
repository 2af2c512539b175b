"""``idp codes issue``: new codes for every voter (or one académie's), a CSV and PDF notices for the print shop."""

from __future__ import annotations

import csv
import stat

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from idp.cli import main
from idp.db import get_db
from idp.models import AuditEvent
from idp.security.keyed import KeyedHasher
from idp.votecode import codes
from idp.votecode.models import VoteCode
from idp.votecode.notices import file_slug, issue_notices
from idp.votecode.service import code_matches


@pytest.fixture
def electorate(voters):
    """Three voters in Dijon, two in Aix-Marseille (one with a name outside the PDF fonts' encoding)."""
    made = [voters.create(f"agent.fictif{i}@ac-dijon.fr", academie="dijon") for i in range(3)]
    made.append(
        voters.create(
            "agent.essai@ac-aix-marseille.fr", academie="Aix-Marseille", first_names="Thị", family_name="NGUYỄN"
        )
    )
    made.append(voters.create("agent.modele@ac-aix-marseille.fr", academie="Aix-Marseille", password=None))
    return made


def run(app, *args: str):
    return app.test_cli_runner().invoke(main, ["codes", "issue", *args])


def read_csv(path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def code_works(app, identifier_to_id: dict[str, int], row: dict[str, str]) -> bool:
    with app.app_context(), get_db(app).sessionmaker() as session:
        return code_matches(
            session,
            app.extensions["idp.keyed"],
            identifier_to_id[row["identifier"]],
            codes.normalise(row["vote_code"]) or "",
        )


def test_cli_writes_a_csv_and_one_pdf_per_academie_with_a_page_per_voter(app, electorate, tmp_path):
    out = tmp_path / "notices"
    result = run(app, "--output", str(out), "--portal-url", "https://portail.exemple.fr")
    assert result.exit_code == 0, result.output
    assert "5 code(s) de vote émis pour 2 académie(s)" in result.stdout
    assert "contient les codes de vote en clair" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "notices-aix-marseille-001.pdf",
        "notices-dijon-001.pdf",
        "notices.csv",
    ]
    rows = read_csv(out / "notices.csv")
    ids = {v.identifier: v.id for v in electorate}
    assert sorted(r["identifier"] for r in rows) == sorted(ids)
    assert all(code_works(app, ids, row) for row in rows)
    assert {r["academie"] for r in rows} == {"dijon", "Aix-Marseille"}
    assert next(r for r in rows if r["family_name"] == "NGUYỄN")["first_names"] == "Thị"  # CSV keeps UTF-8

    dijon = PdfReader(out / "notices-dijon-001.pdf")
    assert len(dijon.pages) == 3
    for row in (r for r in rows if r["academie"] == "dijon"):
        assert row["pdf_file"] == "notices-dijon-001.pdf"
        page = dijon.pages[int(row["pdf_page"]) - 1].extract_text()
        assert row["vote_code"] in page and row["identifier"] in page
        assert "Élections professionnelles — Votre notice de vote" in page
        assert "https://portail.exemple.fr" in page and "réassort de votre code de vote" in page
    assert len(PdfReader(out / "notices-aix-marseille-001.pdf").pages) == 2


def test_notice_files_are_readable_by_their_owner_only(app, electorate, tmp_path):
    out = tmp_path / "new" / "notices"
    assert run(app, "--output", str(out)).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_run_replaces_every_previous_code(app, electorate, tmp_path):
    ids = {v.identifier: v.id for v in electorate}
    assert run(app, "--output", str(tmp_path / "first"), "--no-pdf").exit_code == 0
    assert run(app, "--output", str(tmp_path / "second"), "--no-pdf").exit_code == 0
    first, second = read_csv(tmp_path / "first" / "notices.csv"), read_csv(tmp_path / "second" / "notices.csv")
    assert not any(code_works(app, ids, row) for row in first)
    assert all(code_works(app, ids, row) for row in second)
    assert list((tmp_path / "second").iterdir()) == [tmp_path / "second" / "notices.csv"]
    with get_db(app).sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(VoteCode)) == len(electorate)


def test_one_academie_only(app, electorate, tmp_path):
    ids = {v.identifier: v.id for v in electorate}
    assert run(app, "--output", str(tmp_path / "all"), "--no-pdf").exit_code == 0
    before = read_csv(tmp_path / "all" / "notices.csv")
    result = run(app, "--output", str(tmp_path / "dijon"), "--academie", "dijon")
    assert result.exit_code == 0, result.output
    rows = read_csv(tmp_path / "dijon" / "notices.csv")
    assert {r["academie"] for r in rows} == {"dijon"} and len(rows) == 3
    assert sorted(p.name for p in (tmp_path / "dijon").iterdir()) == ["notices-dijon-001.pdf", "notices.csv"]
    # Aix-Marseille's codes are untouched.
    assert all(code_works(app, ids, row) for row in before if row["academie"] == "Aix-Marseille")
    assert not any(code_works(app, ids, row) for row in before if row["academie"] == "dijon")


def test_large_academies_are_split_into_volumes(app, electorate, tmp_path):
    out = tmp_path / "notices"
    assert (
        run(app, "--output", str(out), "--academie", "dijon", "--pages-per-pdf", "2", "--batch-size", "2").exit_code
        == 0
    )
    assert [len(PdfReader(out / name).pages) for name in ("notices-dijon-001.pdf", "notices-dijon-002.pdf")] == [2, 1]
    assert [(r["pdf_file"], r["pdf_page"]) for r in read_csv(out / "notices.csv")] == [
        ("notices-dijon-001.pdf", "1"),
        ("notices-dijon-001.pdf", "2"),
        ("notices-dijon-002.pdf", "1"),
    ]


def test_the_batch_is_audited_once_with_counts_and_no_code(app, electorate, tmp_path):
    assert run(app, "--output", str(tmp_path / "out")).exit_code == 0
    with get_db(app).sessionmaker() as session:
        events = session.execute(select(AuditEvent).where(AuditEvent.type.like("votecode.%"))).scalars().all()
    assert [e.type for e in events] == ["votecode.batch_issued"]
    assert '"voters":5' in events[0].data and '"academies":2' in events[0].data
    for row in read_csv(tmp_path / "out" / "notices.csv"):
        assert row["vote_code"].replace("-", "") not in events[0].data


def test_refuses_a_directory_that_is_not_empty(app, electorate, tmp_path):
    (tmp_path / "old.csv").write_text("previous run")
    result = run(app, "--output", str(tmp_path))
    assert result.exit_code == 1 and "n'est pas vide" in result.stderr
    with get_db(app).sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(VoteCode)) == 0


def test_unknown_academie_changes_nothing(app, electorate, tmp_path):
    result = run(app, "--output", str(tmp_path / "out"), "--academie", "atlantide")
    assert result.exit_code == 1 and "aucun électeur pour l'académie 'atlantide'" in result.stderr
    assert list((tmp_path / "out").iterdir()) == []


class FailingHasher(KeyedHasher):
    """Fails on the fourth code, after the first PDF pages and CSV rows are written: a crash mid-run."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.calls = 0

    def digest(self, purpose: str, value: str) -> bytes:
        self.calls += 1
        if self.calls == 4:
            raise RuntimeError("disk full")
        return super().digest(purpose, value)


def test_a_failed_run_keeps_the_old_codes_and_leaves_no_notice(app, electorate, tmp_path):
    ids = {v.identifier: v.id for v in electorate}
    assert run(app, "--output", str(tmp_path / "first"), "--no-pdf").exit_code == 0
    before = read_csv(tmp_path / "first" / "notices.csv")
    with app.app_context(), pytest.raises(RuntimeError, match="disk full"):
        issue_notices(
            get_db(app).sessionmaker,
            FailingHasher(app.config["HMAC_KEY"]),
            tmp_path / "second",
            portal_url="https://portail.exemple.fr",
            batch_size=2,
        )
    assert list((tmp_path / "second").iterdir()) == []
    assert all(code_works(app, ids, row) for row in before)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("dijon", "dijon"),
        ("Aix-Marseille", "aix-marseille"),
        ("La Réunion", "la-reunion"),
        ("Île-de-France ?", "ile-de-france"),
    ],
)
def test_file_slugs(name, slug):
    assert file_slug(name) == slug
