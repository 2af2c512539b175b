"""The voters import, on SQLite and on PostgreSQL: all or nothing, idempotent, no NUMEN or NIR in clear."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from idp.cli import main
from idp.db import get_db
from idp.models import AuditEvent, Voter
from idp.voters import import_voters

HEADER = "identifier,family_name,first_names,birth_date,birthplace,numen,nir10,academie,gender"
#: Fictitious voters (names, NUMEN and NIR prefixes invented for the tests).
GOOD_ROWS = [
    "camille.testeur@ac-exemple.fr,TESTEUR,Camille Marie,1985-07-21,21231,12E0000001ABC,2850721231,exemple,F",
    "dominique.fictif@ac-exemple.fr,FICTIF,Dominique,1970-01-02,2A004,34E0000002DEF,1700120004,exemple,M",
    "alex.essai@ac-autre.fr,ESSAI-D'ESSAI,Alex,1992-12-31,99350,56E0000003GHI,1921299350,autre,",
]
SECRETS = ["12E0000001ABC", "34E0000002DEF", "56E0000003GHI", "2850721231", "1700120004", "1921299350"]


def write_csv(path: Path, lines: list[str], *, delimiter: str = ",", bom: bool = False, newline: str = "\n") -> Path:
    content = newline.join(line.replace(",", delimiter) for line in lines) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + content.encode())
    return path


def run_import(app, path: Path, **kwargs):
    return import_voters(get_db(app).sessionmaker, path, app.extensions["idp.keyed"], **kwargs)


def voters_by_identifier(app) -> dict[str, Voter]:
    with get_db(app).sessionmaker() as session:
        return {v.identifier: v for v in session.execute(select(Voter)).scalars()}


def snapshot(app) -> list[tuple]:
    with get_db(app).engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(Voter.__table__).order_by(Voter.id))]


def audit_events(app, type_: str = "voters.imported") -> list[dict]:
    with get_db(app).sessionmaker() as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.type == type_).order_by(AuditEvent.id))
        return [json.loads(event.data) for event in rows.scalars()]


def test_a_good_file_creates_every_voter_with_keyed_hashes(app, tmp_path):
    path = write_csv(tmp_path / "voters.csv", [HEADER, *GOOD_ROWS])
    report = run_import(app, path)

    assert report.ok, report.errors
    assert (report.rows, report.created, report.updated, report.unchanged) == (3, 3, 0, 0)
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    voters = voters_by_identifier(app)
    camille = voters["camille.testeur@ac-exemple.fr"]
    assert (
        camille.family_name,
        camille.first_names,
        camille.birth_date,
        camille.birthplace,
        camille.gender,
        camille.academie,
    ) == ("TESTEUR", "Camille Marie", dt.date(1985, 7, 21), "21231", "F", "exemple")
    keyed = app.extensions["idp.keyed"]
    assert keyed.matches("numen", "12E0000001ABC", camille.numen_hash)
    assert keyed.matches("nir", "2850721231", camille.nir_hash)
    assert camille.password_hash is None and camille.activated_at is None
    assert voters["alex.essai@ac-autre.fr"].gender is None
    assert voters["alex.essai@ac-autre.fr"].family_name == "ESSAI-D'ESSAI"
    assert len({v.subject for v in voters.values()}) == 3
    assert audit_events(app) == [{"created": 3, "updated": 0, "unchanged": 0, "sha256": report.sha256}]


def test_a_file_with_bad_rows_imports_nothing_and_reports_every_bad_line(app, tmp_path):
    lines = [
        HEADER,
        GOOD_ROWS[0],  # line 2
        "bad.numen@ac-exemple.fr,TESTEUR,Camille,1985-07-21,21231,12E000001ABC,2850721231,exemple,F",  # 3
        GOOD_ROWS[1],  # 4
        "bad.nir@ac-exemple.fr,TESTEUR,Camille,1985-07-21,21231,12E0000004ABC,2851321231,exemple,F",  # 5
        "pas-une-adresse,TESTEUR,Camille,1985-07-21,21231,12E0000005ABC,2850721231,exemple,F",  # 6
        "bad.date@ac-exemple.fr,TESTEUR,Camille,21/07/1985,21231,12E0000006ABC,2850721231,exemple,F",  # 7
        "missing.name@ac-exemple.fr,,Camille,1985-07-21,21231,12E0000007ABC,2850721231,exemple,F",  # 8
        "short.row@ac-exemple.fr,TESTEUR,Camille,1985-07-21,21231,12E0000008ABC,2850721231,exemple",  # 9
        "two.problems@ac-exemple.fr,TESTEUR,Camille,1985-07-21,00000,12E0000009ABC,2850721231,exemple,X",  # 10
        GOOD_ROWS[2],  # 11
    ]
    report = run_import(app, write_csv(tmp_path / "voters.csv", lines))

    assert not report.ok
    assert report.bad_lines == 7 and report.rows == 10
    listed = [str(error) for error in report.errors]
    assert [error.line for error in report.errors] == [3, 5, 6, 7, 8, 9, 10, 10]
    assert "ligne 3 : NUMEN invalide : 13 caractères attendus" in listed[0]
    assert listed[1].startswith("ligne 5 : NIR invalide : les caractères 4 et 5 (mois de naissance)")
    assert listed[2].startswith("ligne 6 : identifiant invalide")
    assert listed[3].startswith("ligne 7 : date de naissance invalide") and "JJ/MM/AAAA" in listed[3]
    assert listed[4] == "ligne 8 : nom de famille : valeur manquante"
    assert listed[5] == "ligne 9 : 8 champs au lieu de 9 (séparateur « , »)"
    assert listed[6].startswith("ligne 10 : lieu de naissance invalide")
    assert listed[7].startswith("ligne 10 : genre invalide")
    assert not any(secret in line for line in listed for secret in ("12E000001ABC", "2851321231"))
    assert voters_by_identifier(app) == {}
    assert audit_events(app) == []


def test_reimporting_the_same_file_changes_nothing(app, tmp_path):
    path = write_csv(tmp_path / "voters.csv", [HEADER, *GOOD_ROWS])
    run_import(app, path)
    before = snapshot(app)

    report = run_import(app, path, batch_size=2)

    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert snapshot(app) == before
    assert audit_events(app)[-1] == {"created": 0, "updated": 0, "unchanged": 3, "sha256": report.sha256}


def test_changed_rows_are_updated_without_touching_the_account(app, voters, tmp_path):
    activated = voters.create("camille.testeur@ac-exemple.fr", numen="12E0000001ABC", nir10="2850721231")
    path = write_csv(tmp_path / "voters.csv", [HEADER, *GOOD_ROWS])

    report = run_import(app, path, batch_size=2)

    assert (report.created, report.updated, report.unchanged) == (2, 1, 0)
    after = voters_by_identifier(app)["camille.testeur@ac-exemple.fr"]
    assert (after.first_names, after.academie) == ("Camille Marie", "exemple")
    assert after.id == activated.id and after.subject == activated.subject
    assert after.password_hash == activated.password_hash
    assert after.challenge_answer_hash == activated.challenge_answer_hash
    assert after.activated_at == activated.activated_at
    assert after.session_epoch == activated.session_epoch
    assert after.updated_at > activated.updated_at


def test_a_file_without_the_gender_column_keeps_the_stored_gender(app, tmp_path):
    run_import(app, write_csv(tmp_path / "with.csv", [HEADER, *GOOD_ROWS]))
    without = [line.rsplit(",", 1)[0] for line in [HEADER, *GOOD_ROWS]]

    report = run_import(app, write_csv(tmp_path / "without.csv", without))

    assert (report.updated, report.unchanged) == (0, 3)
    assert voters_by_identifier(app)["camille.testeur@ac-exemple.fr"].gender == "F"


def test_numen_and_nir_are_nowhere_in_clear(app, tmp_path):
    run_import(app, write_csv(tmp_path / "voters.csv", [HEADER, *GOOD_ROWS]))

    engine = get_db(app).engine
    dumped: list[str] = []
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        dumped.append(bytes(value).decode("latin-1"))
                    elif value is not None:
                        dumped.append(str(value))
    everything = "\n".join(dumped)
    assert "camille.testeur@ac-exemple.fr" in everything  # the dump does see the imported rows
    for secret in SECRETS:
        assert secret not in everything
        assert secret.lower() not in everything.lower()


def test_duplicate_identifiers_are_refused_with_the_first_line(app, tmp_path):
    duplicate = GOOD_ROWS[1].replace("dominique.fictif@ac-exemple.fr", "Camille.Testeur@AC-Exemple.fr")
    report = run_import(app, write_csv(tmp_path / "voters.csv", [HEADER, *GOOD_ROWS, duplicate, duplicate]))

    assert [str(e) for e in report.errors] == [
        "ligne 5 : identifiant en double (déjà présent ligne 2)",
        "ligne 6 : identifiant en double (déjà présent ligne 2)",
    ]
    assert voters_by_identifier(app) == {}


def test_bom_semicolons_crlf_and_quotes_are_read(app, tmp_path):
    quoted = (
        '"agent.guillemets@ac-exemple.fr";"DE LA TESTERIE";"Anne; Marie";1980-03-04;75056;'
        "78E0000004JKL;2800375056;exemple;F"
    )
    lines = [HEADER.upper(), *GOOD_ROWS[:2]]
    path = write_csv(tmp_path / "voters.csv", lines, delimiter=";", bom=True, newline="\r\n")
    report = run_import(app, path)
    assert report.ok and report.created == 2

    with_quotes = write_csv(tmp_path / "quoted.csv", [*lines, "", ";;;;;;;;", quoted], delimiter=";")
    report = run_import(app, with_quotes)
    # "Anne; Marie" is one quoted cell, read whole, then refused for its semicolon (not a name character).
    assert [str(e) for e in report.errors] == [
        "ligne 6 : prénoms : caractère 5 non admis (lettres, espaces, tirets et apostrophes seulement)"
    ]


def test_a_file_that_is_not_utf8_names_its_lines(app, tmp_path):
    path = tmp_path / "voters.csv"
    rows = [HEADER, GOOD_ROWS[0], GOOD_ROWS[1].replace("FICTIF", "FICTIFÉ")]
    path.write_bytes("\n".join(rows).encode("cp1252"))

    report = run_import(app, path)

    assert [str(e) for e in report.errors] == [
        "ligne 3 : caractères non UTF-8 (enregistrez le fichier au format « CSV UTF-8 »)"
    ]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            "identifier,family_name,first_names,birth_date,birthplace,numen,academie",
            "colonne(s) manquante(s) : « nir10 »",
        ),
        (HEADER + ",telephone", "colonne(s) inconnue(s) : « telephone »"),
        ("", "en-tête manquant"),
    ],
)
def test_a_bad_header_is_reported_on_line_1(app, tmp_path, header, message):
    report = run_import(app, write_csv(tmp_path / "voters.csv", [header, GOOD_ROWS[0]]))
    assert len(report.errors) == 1
    assert report.errors[0].line == 1 and message in report.errors[0].reason


def test_the_error_list_is_bounded_but_every_bad_line_is_counted(app, tmp_path):
    bad = [f"agent{i}@ac-exemple.fr,TESTEUR,Camille,1985-07-21,21231,BAD,2850721231,exemple,F" for i in range(30)]
    report = run_import(app, write_csv(tmp_path / "voters.csv", [HEADER, *bad]), max_errors=10)
    assert report.bad_lines == 30 and len(report.errors) == 10 and report.truncated


def test_cli_imports_and_summarises(app, tmp_path):
    path = write_csv(tmp_path / "voters.csv", [HEADER, *GOOD_ROWS])
    result = app.test_cli_runner().invoke(main, ["voters", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 électeur(s) créé(s), 0 mis à jour, 0 inchangé(s)" in result.stdout
    assert len(voters_by_identifier(app)) == 3


def test_cli_refuses_a_bad_file_listing_every_bad_line(app, tmp_path):
    lines = [
        HEADER,
        GOOD_ROWS[0],
        GOOD_ROWS[1].replace("34E0000002DEF", "34E00"),
        GOOD_ROWS[2].replace("1992-12-31", "1992-13-01"),
    ]
    path = write_csv(tmp_path / "voters.csv", lines)

    result = app.test_cli_runner().invoke(main, ["voters", "import", str(path)])

    assert result.exit_code == 1
    assert "Fichier refusé, rien n'a été importé : 2 ligne(s) en erreur sur 3." in result.stderr
    assert "ligne 3 : NUMEN invalide" in result.stderr
    assert "ligne 4 : date de naissance invalide : ce jour n'existe pas" in result.stderr
    with get_db(app).sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(Voter)) == 0


def test_a_file_changed_after_validation_is_not_written(app, tmp_path):
    # The two passes of import_voters, run one after the other with the file rewritten in between.
    from idp.voters.importer import FileChangedError, ImportReport, _validate, _write
    from idp.voters.records import RowParser

    path = write_csv(tmp_path / "voters.csv", [HEADER, *GOOD_ROWS])
    report, parser = ImportReport(path), RowParser()
    _validate(path, parser, report, None)
    assert report.ok
    write_csv(path, [HEADER, GOOD_ROWS[0].replace("TESTEUR", "AUTRE"), *GOOD_ROWS[1:]])

    with pytest.raises(FileChangedError, match="le fichier a changé"), get_db(app).transaction() as session:
        _write(session, path, parser, app.extensions["idp.keyed"], report, 1000)

    assert voters_by_identifier(app) == {}
    assert audit_events(app) == []
