"""The election record and its standalone verifier: a counted scrutin's record (from the public board) verifies
with ``tools/verify_election_record.py`` run apart from the project (``python -S``, only pysodium on the path, a
temporary working directory); any altered byte makes it fail at the line that holds the byte (property test);
records altered with more care (a ballot dropped, a total changed, trustees below the threshold) fail too. Each test
runs on a scrutin of each proof format (the manifest's version: 1, created before format 2; 2, the current one)."""

from __future__ import annotations

import ast
import datetime as dt
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pysodium
import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from relying_party.db import get_db
from relying_party.elections.record import election_record
from relying_party.elections.tally import tally
from relying_party.models import Scrutin, utcnow
from tests.relying_party.helpers import list_ids, load, scrutin_entry, scrutin_id
from tests.relying_party.voting import cast_choice, ensure_key, trustee_decrypt
from votecrypto.ballot import FORMATS

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_election_record.py"
#: The directory holding pysodium (and nothing of the project: it is installed in editable mode, reachable only
#: through a ``.pth`` file that ``python -S`` does not read).
PYSODIUM_HOME = str(Path(pysodium.__file__).resolve().parents[1])
VOTERS = {f"votant.{n}@ac-exemple.fr": f"M. VOTANT {n}" for n in range(4)}


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_election_record", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


VERIFIER = _tool()


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "PYTHONPATH": PYSODIUM_HOME}
    return subprocess.run(
        [sys.executable, "-S", str(TOOL), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(params=FORMATS, ids=lambda f: f"format{f}")
def record(portal: Flask, request: pytest.FixtureRequest) -> bytes:
    """A counted scrutin: 4 voters (list 1, list 2, blank, list 1), decrypted by trustees 1 and 3 of 3."""
    app = portal
    now = utcnow()
    load(
        app,
        {
            "scrutins": [
                scrutin_entry("DOSSIER", now - dt.timedelta(days=1), now + dt.timedelta(days=1), lists=2, roll=VOTERS)
            ]
        },
    )
    with get_db(app).transaction() as session:  # format 1: as a scrutin created before format 2 existed
        session.execute(update(Scrutin).where(Scrutin.code == "DOSSIER").values(manifest_version=request.param))
    trustees = ensure_key(app, "DOSSIER")
    lists = list_ids(app, "DOSSIER")
    for voter, choice in zip(VOTERS, [lists[0], lists[1], None, lists[0]], strict=True):
        cast_choice(
            app, scrutin_id=scrutin_id(app, "DOSSIER"), voter_identifier=voter, candidate_list_id=choice, now=now
        )
    with get_db(app).transaction() as session:
        session.execute(
            update(Scrutin).values(closes_at=utcnow() - dt.timedelta(seconds=1), opens_at=now - dt.timedelta(days=2))
        )
    _, request = tally(get_db(app), "DOSSIER", utcnow())
    partials = [trustee_decrypt(app, request, trustees[i].key_file) for i in (0, 2)]
    tally(get_db(app), "DOSSIER", utcnow(), partials=partials)
    return b"".join(election_record(get_db(app), "DOSSIER"))


def test_the_tool_imports_only_the_standard_library_and_pysodium() -> None:
    tree = ast.parse(TOOL.read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__", "pysodium"}


def test_a_counted_scrutin_verifies_with_the_tool_alone(record: bytes, tmp_path: Path) -> None:
    path = tmp_path / "dossier.jsonl"
    path.write_bytes(record)
    done = run([str(path)], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == (
        "OK: 4 ballots, result verified: Syndicat fictif A 2, Union imaginaire B 1, Vote blanc 1"
    )
    election_hash = json.loads(record.split(b"\n", 1)[0])["election_hash"]
    assert run(["--election-hash", election_hash, str(path)], tmp_path).returncode == 0
    wrong = run(["--election-hash", "00" * 32, str(path)], tmp_path)
    assert wrong.returncode == 1 and "line 1 (election)" in wrong.stdout
    project = subprocess.run(
        [sys.executable, "-S", "-c", "import relying_party"],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": PYSODIUM_HOME},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert project.returncode != 0 and "ModuleNotFoundError" in project.stderr, "the tool runs without the project"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_altered_byte_fails_at_the_line_that_holds_it(record: bytes, data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(record) - 1), label="position")
    replacement = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != record[position]), label="byte"
    )
    altered = record[:position] + bytes([replacement]) + record[position + 1 :]
    line = record[:position].count(b"\n") + 1
    with pytest.raises(VERIFIER.Failure) as failed:
        VERIFIER.verify(altered, None)
    assert re.match(rf"line {line}[ :]", str(failed.value)), (position, str(failed.value))


def _lines(record: bytes) -> list[dict]:
    return [json.loads(line) for line in record.splitlines()]


def _write(items: list[dict]) -> bytes:
    return b"".join(VERIFIER.canonical(item).encode() + b"\n" for item in items)


def test_carefully_altered_records_fail_at_the_right_item(record: bytes) -> None:
    items = _lines(record)
    assert [i["type"] for i in items] == ["election"] + ["ballot"] * 4 + [
        "aggregate",
        "partial_decryption",
        "partial_decryption",
        "result",
    ]

    def failure(changed: list[dict]) -> str:
        with pytest.raises(VERIFIER.Failure) as failed:
            VERIFIER.verify(_write(changed), None)
        return str(failed.value)

    assert VERIFIER.verify(_write(items), None).startswith("4 ballots")
    # A ballot dropped: the aggregate no longer adds up.
    assert failure(items[:2] + items[3:]).startswith("line 5 (aggregate): it counts 4 ballots, the record holds 3")
    # A ballot shown twice.
    assert "strictly increasing" in failure(items[:3] + items[2:])
    # Trustee 3's decryption withheld: below the threshold, no result can be shown.
    assert failure(items[:7] + items[8:]).startswith("line 8 (result): 2 partial decryptions needed, 1 in the record")
    # Totals moved from one list to another, still adding up to the number of ballots.
    moved = json.loads(json.dumps(items))
    moved[-1]["totals"][0]["votes"], moved[-1]["totals"][1]["votes"] = 1, 2
    assert failure(moved).startswith(
        "line 9 (result): total 0 (Syndicat fictif A): the decryption gives another number"
    )
    # The record stops early.
    assert failure(items[:-1]) == "the record ends before its result"
    # A point's encoding with its top bit set: libsodium 1.0.18 alone would read it as the same point; RFC 9496 does
    # not, and neither does the tool.
    flipped = json.loads(json.dumps(items))
    beta = bytearray.fromhex(flipped[2]["ballot"]["choices"][0]["beta"])
    beta[31] |= 0x80
    assert pysodium.crypto_core_ristretto255_is_valid_point(bytes(beta))
    flipped[2]["ballot"]["choices"][0]["beta"] = beta.hex()
    assert re.fullmatch(r"line 3 \(ballot [0-9a-f]{64}\): beta: not a ristretto255 point", failure(flipped))
    # The manifest's version (the proofs' format) changed: the election hash no longer matches it.
    version = items[0]["manifest"]["version"]
    relabelled = json.loads(json.dumps(items))
    relabelled[0]["manifest"]["version"] = 3 - version
    assert failure(relabelled) == "line 1 (election): the manifest does not match the election hash"
    # A challenge moved by 2**128: the hash modulo 2**128 is unchanged; format 2 refuses it by its bound, format 1 by
    # the proof (the challenges no longer add up to the hash modulo ℓ).
    stretched = json.loads(json.dumps(items))
    option = stretched[3]["ballot"]["choices"][1]
    option["c1"] = (int.from_bytes(bytes.fromhex(option["c1"]), "little") + 2**128).to_bytes(32, "little").hex()
    reason = " (a challenge of more than 128 bits)" if version == 2 else ""
    assert re.fullmatch(
        rf"line 4 \(ballot [0-9a-f]{{64}}\): option 1: the proof that it counts 0 or 1 fails{re.escape(reason)}",
        failure(stretched),
    )
