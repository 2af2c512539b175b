"""The key ceremony through the commands an operator and three trustees type (``portal ceremony``, ``portal trustee``),
and what it refuses: a forged publication, a portal that swaps a trustee's publication, a share off its dealer's
polynomial, a wrong passphrase; nothing of the secrets reaches the database."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select, text

from relying_party.ceremony import service
from relying_party.ceremony.trustee import TrusteeRefused, confirm, keygen, make_shares
from relying_party.cli import main
from relying_party.db import get_db
from relying_party.models import KeyCeremony, SealedShare, utcnow
from tests.relying_party.ceremony import CHEAP, PASSPHRASE, run_ceremony
from tests.relying_party.helpers import load, scrutin_entry
from votecrypto import group as g
from votecrypto import keyfile


@pytest.fixture
def scrutin(app: Flask) -> Flask:
    now = utcnow()
    load(app, {"scrutins": [scrutin_entry("KEYED", now - dt.timedelta(days=1), now + dt.timedelta(days=1))]})
    return app


def portal(app: Flask, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setenv("PORTAL_DATABASE_URL", app.config["DATABASE_URL"])
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_three_trustees_two_needed_through_the_commands(
    scrutin: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "phrase"
    secret.write_text(PASSPHRASE)
    names = ["Mme GARANTE Une", "M. GARANT Deux", "Mme GARANTE Trois"]
    out = portal(
        scrutin,
        monkeypatch,
        "ceremony",
        "create",
        "EP",
        "--label",
        "Test",
        "-k",
        "2",
        *[f"--trustee={n}" for n in names],
        "--scrutin",
        "KEYED",
    )
    assert "2 garants sur 3" in out
    assert "aucun scrutin rattaché ne peut ouvrir" in portal(scrutin, monkeypatch, "ceremony", "status", "EP")

    def trustee(index: int, step: str) -> str:
        state = tmp_path / f"state-{index}-{step}.json"
        portal(scrutin, monkeypatch, "ceremony", "export", "EP", "--trustee", str(index), "--output", str(state))
        args = [
            step,
            str(state),
            "--key-file",
            str(tmp_path / f"t{index}.key"),
            "--passphrase-file",
            str(secret),
            "--output",
            str(tmp_path / f"{step}-{index}.json"),
            "--kdf-memory",
            "8",
        ]
        if step == "keygen":
            args += ["--index", str(index)]
        answer = portal(scrutin, monkeypatch, "trustee", *args)
        portal(scrutin, monkeypatch, "ceremony", "import", str(tmp_path / f"{step}-{index}.json"))
        return answer

    def refused_with_a_wrong_passphrase(step: str) -> None:
        state, wrong, output = tmp_path / f"state-refused-{step}.json", tmp_path / "wrong", tmp_path / f"no-{step}.json"
        wrong.write_text("pas la bonne phrase de passe")
        portal(scrutin, monkeypatch, "ceremony", "export", "EP", "--trustee", "1", "--output", str(state))
        args = ["--key-file", str(tmp_path / "t1.key"), "--passphrase-file", str(wrong), "--output", str(output)]
        result = CliRunner().invoke(main, ["trustee", step, str(state), *args, "--kdf-memory", "8"])
        assert result.exit_code == 1 and "phrase de passe incorrecte" in result.output, result.output
        assert not output.exists()

    for index in (1, 2, 3):
        trustee(index, "keygen")
    refused_with_a_wrong_passphrase("shares")
    digests = {
        trustee(index, "shares").split("comparez-la avec les autres garants) : ")[1].strip() for index in (1, 2, 3)
    }
    assert len(digests) == 1, "every trustee saw the same publications"
    refused_with_a_wrong_passphrase("confirm")
    for index in (1, 2, 3):
        trustee(index, "confirm")
    status = portal(scrutin, monkeypatch, "ceremony", "status", "EP")
    assert status.count(": confirmé") == 3 and digests.pop() in status and "Clé de l'élection : " in status
    with get_db(scrutin).reader() as session:
        ceremony = session.execute(select(KeyCeremony)).scalar_one()
        assert ceremony.public_key is not None and g.is_point(ceremony.public_key)
    # Each private file holds one share, readable with the passphrase only; none is in the database.
    shares = []
    for index in (1, 2, 3):
        header, kept = keyfile.read(tmp_path / f"t{index}.key", PASSPHRASE)
        assert header["completed"] is True and set(kept) == {"share", "public_share", "transcript"}
        shares.append(bytes.fromhex(kept["share"]))
    dump = _dump(scrutin)
    assert not any(share.hex() in dump for share in shares)


def _dump(app: Flask) -> str:
    """Every value of the ceremony's tables, bytes in hex."""
    values = []
    with get_db(app).engine.connect() as conn:
        for table in ("portal_key_ceremony", "portal_trustee", "portal_trustee_share"):
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                values += [bytes(v).hex() if isinstance(v, bytes | memoryview) else str(v) for v in row]
    return " ".join(values)


def test_a_forged_publication_is_refused(scrutin: Flask, tmp_path: Path) -> None:
    with get_db(scrutin).transaction() as session:
        service.create(session, code="EP", label="Test", threshold=2, names=["A", "B"], now=utcnow())
    with get_db(scrutin).reader() as session:
        state = service.export_state(session, service.find(session, "EP"), 1)
    published = keygen(state, 1, tmp_path / "t1.key", PASSPHRASE, CHEAP)
    published["commitments"][1] = g.mul_base(g.random_scalar()).hex()
    with (
        pytest.raises(service.CeremonyRefused, match="Fichier du garant n° 1 refusé"),
        get_db(scrutin).transaction() as session,
    ):
        service.receive(session, published, utcnow())
    with get_db(scrutin).reader() as session:
        assert service.find(session, "EP").trustees[0].commitments is None


def test_a_trustee_notices_a_publication_that_is_not_theirs(scrutin: Flask, tmp_path: Path) -> None:
    with get_db(scrutin).transaction() as session:
        service.create(session, code="EP", label="Test", threshold=2, names=["A", "B"], now=utcnow())

    def state(index: int) -> dict:
        with get_db(scrutin).reader() as session:
            return service.export_state(session, service.find(session, "EP"), index)

    for index in (1, 2):
        with get_db(scrutin).transaction() as session:
            service.receive(
                session, keygen(state(index), index, tmp_path / f"t{index}.key", PASSPHRASE, CHEAP), utcnow()
            )
    # A portal that shows trustee 1 a box key of its own making for trustee 1 (to read what others seal to it).
    tampered = state(1)
    tampered["round1"][0]["box_key"] = "00" * 32
    with pytest.raises(TrusteeRefused, match="n'est pas la vôtre"):
        make_shares(tampered, tmp_path / "t1.key", PASSPHRASE, CHEAP)
    with pytest.raises(TrusteeRefused, match="phrase de passe incorrecte"):
        make_shares(state(1), tmp_path / "t1.key", "pas la bonne phrase de passe", CHEAP)


def test_a_share_off_its_dealers_polynomial_stops_the_ceremony(scrutin: Flask, tmp_path: Path) -> None:
    trustees = run_ceremony(scrutin, tmp_path / "ok", ("KEYED",), code="OK")
    assert len(trustees) == 3
    with get_db(scrutin).transaction() as session:
        service.create(session, code="EP", label="Test", threshold=2, names=["A", "B"], now=utcnow())

    def state(index: int) -> dict:
        with get_db(scrutin).reader() as session:
            return service.export_state(session, service.find(session, "EP"), index)

    for index in (1, 2):
        with get_db(scrutin).transaction() as session:
            service.receive(
                session, keygen(state(index), index, tmp_path / f"t{index}.key", PASSPHRASE, CHEAP), utcnow()
            )
    for index in (1, 2):
        with get_db(scrutin).transaction() as session:
            service.receive(
                session, make_shares(state(index), tmp_path / f"t{index}.key", PASSPHRASE, CHEAP)[0], utcnow()
            )
    # The portal swaps the share trustee 2 sealed for trustee 1 with one sealed for trustee 1 by someone else.
    from votecrypto.sealed import seal_share

    with get_db(scrutin).transaction() as session:
        ceremony = service.find(session, "EP")
        row = session.execute(
            select(SealedShare).where(SealedShare.ceremony_id == ceremony.id, SealedShare.recipient == 1)
        ).scalar_one()
        row.sealed = seal_share(ceremony.uid, 2, 1, g.random_scalar(), ceremony.trustees[0].box_key or b"")
    with pytest.raises(TrusteeRefused, match="La part du garant n° 2 est invalide"):
        confirm(state(1), tmp_path / "t1.key", PASSPHRASE, CHEAP)
    assert json.loads((tmp_path / "t1.key").read_text())["header"].get("completed") is None
