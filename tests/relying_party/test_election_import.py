"""``portal election import``: good file, every problem reported with nothing written, idempotent."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from relying_party.cli import main
from relying_party.db import get_db
from relying_party.elections.importer import import_document, import_file
from relying_party.models import Candidate, CandidateList, Emargement, RollEntry, Scrutin, utcnow
from tests.relying_party.helpers import CLAIRE, MARC, load, scrutin_entry, scrutin_id, standard_document
from tests.relying_party.voting import cast_choice


def _counts(app: Flask) -> dict[str, int]:
    with get_db(app).sessionmaker() as session:
        return {
            model.__name__: int(session.execute(select(func.count()).select_from(model)).scalar_one())
            for model in (Scrutin, CandidateList, Candidate, RollEntry)
        }


def _write(tmp_path: Path, document: object, name: str = "election.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def test_good_file_is_imported_with_pdf_and_csv_roll(app: Flask, tmp_path: Path) -> None:
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "a.pdf").write_bytes(b"%PDF-1.4\n% fictitious\n")
    (tmp_path / "roll.csv").write_text(
        "identifier;display_name\nCamille.Exemple@ac-dijon.fr;Mme EXEMPLE Camille\n", encoding="utf-8"
    )
    entry = scrutin_entry("CSA-TEST", utcnow(), utcnow() + dt.timedelta(days=7))
    entry["lists"][0]["profession_de_foi"] = "pdf/a.pdf"
    entry["roll_file"] = "roll.csv"
    report = import_file(get_db(app), _write(tmp_path, {"version": 1, "scrutins": [entry]}), max_pdf_bytes=10_000)
    assert report.ok, report.errors
    assert report.counts["scrutins créés"] == 1 and report.counts["électeurs ajoutés"] == 3
    assert _counts(app) == {"Scrutin": 1, "CandidateList": 2, "Candidate": 4, "RollEntry": 3}
    with get_db(app).sessionmaker() as session:
        first = session.execute(select(CandidateList).where(CandidateList.position == 1)).scalar_one()
        assert first.profession_de_foi == b"%PDF-1.4\n% fictitious\n"
        identifiers = set(session.execute(select(RollEntry.voter_identifier)).scalars())
    assert identifiers == {CLAIRE, MARC, "camille.exemple@ac-dijon.fr"}


def test_every_problem_is_reported_and_nothing_is_written(app: Flask, tmp_path: Path) -> None:
    load(app, standard_document(utcnow()))
    before = _counts(app)
    (tmp_path / "roll.csv").write_text(
        "identifier;display_name\npas-une-adresse;M. X\nok.voter@ac-dijon.fr;\nok.voter@ac-dijon.fr;M. OK\n"
        "trop;de;colonnes\n",
        encoding="utf-8",
    )
    (tmp_path / "faux.pdf").write_text("ceci n'est pas un PDF", encoding="utf-8")
    good = scrutin_entry("NEW-GOOD", utcnow(), utcnow() + dt.timedelta(days=1))
    bad = scrutin_entry("BAD", utcnow(), utcnow() - dt.timedelta(days=1), kind="cap_imaginaire")
    bad["opens_at"] = "2022-12-01T08:00:00"  # no time zone
    bad["lists"][1]["position"] = 1  # duplicate position
    bad["lists"][0]["candidates"][0]["civility"] = "Dr"
    bad["lists"][0]["profession_de_foi"] = "faux.pdf"
    bad["roll"].append({"identifier": CLAIRE, "display_name": "Mme JULLIEN Claire"})  # duplicate voter
    bad["roll_file"] = "roll.csv"
    missing_pdf = scrutin_entry("NOPDF", utcnow(), utcnow() + dt.timedelta(days=1))
    missing_pdf["lists"][0]["profession_de_foi"] = "../../etc/passwd"
    document = {"version": 1, "scrutins": [good, bad, missing_pdf, {"code": "NEW-GOOD"}]}
    report = import_file(get_db(app), _write(tmp_path, document), max_pdf_bytes=10_000)
    assert not report.ok
    text = "\n".join(report.errors)
    expected = [
        "scrutins[1] (BAD).kind : inconnu ('cap_imaginaire')",
        "scrutins[1] (BAD).opens_at : fuseau horaire manquant",
        "scrutins[1] (BAD).lists[1].position : 1 est déjà utilisée par une autre liste",
        "scrutins[1] (BAD).lists[0].candidates[0].civility : « Mme » ou « M. » attendu",
        "scrutins[1] (BAD).lists[0].profession_de_foi : « faux.pdf » n'est pas un fichier PDF",
        f"scrutins[1] (BAD).roll[2] : « {CLAIRE} » figure déjà sur la liste électorale (scrutins[1] (BAD).roll[0])",
        "roll.csv ligne 2.identifier : adresse électronique invalide ('pas-une-adresse')",
        "roll.csv ligne 3.display_name : obligatoire",
        "roll.csv ligne 5 : 2 colonnes attendues, 3 trouvées",
        "scrutins[2] (NOPDF).lists[0].profession_de_foi : « ../../etc/passwd » sort du dossier du fichier d'import",
        "scrutins[3] (NEW-GOOD).label : obligatoire",
    ]
    for item in expected:
        assert item in text, f"missing {item!r} in:\n{text}"
    assert _counts(app) == before


def test_json_syntax_error_is_located(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"scrutins": [\n  {"code": "X",}\n]}', encoding="utf-8")
    report = import_file(get_db(app), path, max_pdf_bytes=1000)
    assert report.errors and "ligne 2" in report.errors[0] and "JSON invalide" in report.errors[0]


def test_same_file_twice_is_a_no_op(app: Flask) -> None:
    document = standard_document(utcnow())
    first = load(app, document)
    assert first.counts["scrutins créés"] == 4
    before = _counts(app)
    second = load(app, document)
    assert second.counts["scrutins inchangés"] == 4
    assert second.counts["électeurs inchangés"] == 8
    assert sum(v for k, v in second.counts.items() if "inchangés" not in k) == 0
    assert _counts(app) == before


def test_reimport_updates_roll_lists_and_dates(app: Flask) -> None:
    now = utcnow()
    load(app, standard_document(now))
    document = standard_document(now)
    entry = document["scrutins"][0]
    entry["roll"] = [
        {"identifier": CLAIRE, "display_name": "Mme JULLIEN-MARTIN Claire"},
        {"identifier": "nouvel.electeur@ac-dijon.fr", "display_name": "M. NOUVEL Électeur"},
    ]
    entry["lists"][1]["organisation"] = "Union imaginaire B (renommée)"
    entry["closes_at"] = (now + dt.timedelta(days=9)).isoformat()
    report = load(app, document)
    assert report.counts["scrutins modifiés"] == 1
    assert report.counts["listes modifiées"] == 1
    assert (
        report.counts["électeurs ajoutés"],
        report.counts["électeurs modifiés"],
        report.counts["électeurs retirés"],
    ) == (1, 1, 1)
    with get_db(app).sessionmaker() as session:
        names = dict(
            session.execute(
                select(RollEntry.voter_identifier, RollEntry.display_name).join(Scrutin).where(Scrutin.code == "OPEN")
            ).all()
        )
    assert names == {CLAIRE: "Mme JULLIEN-MARTIN Claire", "nouvel.electeur@ac-dijon.fr": "M. NOUVEL Électeur"}


def test_database_level_problems_roll_everything_back(app: Flask) -> None:
    now = utcnow()
    load(app, standard_document(now))
    cast_choice(app, scrutin_id=scrutin_id(app, "OPEN"), voter_identifier=MARC, candidate_list_id=None, now=now)
    document = standard_document(now)
    document["scrutins"][0]["roll"] = [{"identifier": CLAIRE, "display_name": "Mme JULLIEN Claire"}]  # Marc voted
    document["scrutins"][0]["lists"].pop()  # lists are frozen once ballots exist
    document["scrutins"][1]["label"] = "Changement qui ne doit pas rester"
    report = import_document(get_db(app), document, Path("."), max_pdf_bytes=1000)
    assert report.errors == [
        "scrutin OPEN : des bulletins sont déjà dans l'urne, ses listes de candidats ne peuvent plus changer",
        f"scrutin OPEN : {MARC} a déjà voté et ne peut pas être retiré de la liste électorale",
    ]
    with get_db(app).sessionmaker() as session:
        assert session.execute(select(Scrutin.label).where(Scrutin.code == "OPEN2")).scalar_one() == (
            "Scrutin de test OPEN2"
        )
        assert session.execute(select(func.count()).select_from(Emargement)).scalar_one() == 1


def test_cli_import_reports_and_exits_non_zero(app: Flask, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PORTAL_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("PORTAL_SECRET_KEY", app.config["SECRET_KEY"])
    runner = CliRunner()
    good = _write(tmp_path, standard_document(utcnow()), "good.json")
    result = runner.invoke(main, ["election", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "4 scrutins créés" in result.output
    again = runner.invoke(main, ["election", "import", str(good)])
    assert "0 scrutins créés, 0 scrutins modifiés, 4 scrutins inchangés" in again.output
    bad = _write(tmp_path, {"scrutins": [{"code": "??"}]}, "bad.json")
    result = runner.invoke(main, ["election", "import", str(bad)])
    assert result.exit_code == 1
    assert "scrutins[0].code : obligatoire" in result.output
    assert "rien n'a été importé" in result.output
