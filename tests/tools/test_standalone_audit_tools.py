"""The auditors' procedure without the project's code: ``idp audit export`` and ``idp audit seal`` on one side,
``tools/verify_audit_export.py`` and ``tools/verify_audit_seal.py`` run as separate processes on the other, in an
environment where the project cannot be imported (``python -S``: no site-packages, so no editable install; the
seal tool gets only the directory that holds ``cryptography``; the working directory is a temporary one)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import cryptography
import pytest
from sqlalchemy import delete

from idp.db import get_db
from idp.models import AuditEvent
from tests.idp.audit.helpers import SealKey, chain_events, cli, record_events, rewrite_chain

TOOLS = Path(__file__).resolve().parents[2] / "tools"
EXPORT_TOOL = TOOLS / "verify_audit_export.py"
SEAL_TOOL = TOOLS / "verify_audit_seal.py"
#: The directory holding ``cryptography`` (and nothing of the project: it is installed in editable mode, reachable
#: only through a ``.pth`` file that ``python -S`` does not read).
CRYPTOGRAPHY_HOME = str(Path(cryptography.__file__).resolve().parents[1])


def run(args: list[str], cwd: Path, *, with_cryptography: bool) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
    if with_cryptography:
        env["PYTHONPATH"] = CRYPTOGRAPHY_HOME
    return subprocess.run(
        [sys.executable, "-S", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("with_cryptography", [False, True])
def test_the_project_cannot_be_imported_where_the_tools_run(tmp_path, with_cryptography):
    for package in ("idp", "audit_console", "relying_party", "templates"):
        result = run(["-c", f"import {package}"], tmp_path, with_cryptography=with_cryptography)
        assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr, package
    if with_cryptography:
        assert (
            run(
                ["-c", "import cryptography.hazmat.primitives.asymmetric.ed25519"], tmp_path, with_cryptography=True
            ).returncode
            == 0
        )


def test_seal_tool_imports_only_the_standard_library_cryptography_and_the_export_tool():
    tree = ast.parse(SEAL_TOOL.read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__", "cryptography", "verify_audit_export"}


def export(app, path: Path, *args: str) -> None:
    result = cli(app, "audit", "export", "--output", str(path), *args)
    assert result.exit_code == 0, result.output


def seal(app, key: SealKey, path: Path) -> None:
    result = cli(app, "audit", "seal", "--key-file", str(key.private), "--output", str(path))
    assert result.exit_code == 0, result.output


def seal_tool(tmp_path: Path, key: SealKey, export_file: Path, *checkpoints: Path):
    flags = [arg for c in checkpoints for arg in ("--checkpoint", str(c))]
    return run(
        [str(SEAL_TOOL), "--public-key", str(key.public), *flags, str(export_file)], tmp_path, with_cryptography=True
    )


def test_export_and_seals_verify_without_the_project(app, seal_key, tmp_path):
    added = cli(app, "auditors", "add", "alix.verif@audit.example.fr", "--name", "Alix Vérif")
    assert added.exit_code == 0
    record_events(app, 8, chains=4, note="Zoé « guillemets » \\ fin")
    seal(app, seal_key, tmp_path / "sceau-1.json")
    record_events(app, 5, chains=4, start=20)
    seal(app, seal_key, tmp_path / "sceau-2.json")
    record_events(app, 2, chains=4, start=40)
    export(app, tmp_path / "journal.jsonl")

    plain = run([str(EXPORT_TOOL), "--heads", str(tmp_path / "journal.jsonl")], tmp_path, with_cryptography=False)
    assert plain.returncode == 0, plain.stderr
    assert "export intact:" in plain.stdout
    sealed = seal_tool(
        tmp_path, seal_key, tmp_path / "journal.jsonl", tmp_path / "sceau-2.json", tmp_path / "sceau-1.json"
    )
    assert sealed.returncode == 0, sealed.stderr
    assert "2 checkpoint(s) verified" in sealed.stdout
    # A filtered export (--since/--until/--type) verifies event by event with --filtered.
    export(app, tmp_path / "connexions.jsonl", "--type", "login.succeeded", "--since", "2000-01-01")
    filtered = run(
        [str(EXPORT_TOOL), "--filtered", str(tmp_path / "connexions.jsonl")], tmp_path, with_cryptography=False
    )
    assert filtered.returncode == 0 and "15 events in" in filtered.stdout, filtered.stdout + filtered.stderr
    export(app, tmp_path / "sujet.jsonl", "--subject", "sujet-fictif-3")
    lines = (tmp_path / "sujet.jsonl").read_text(encoding="ascii").splitlines()
    assert [json.loads(line)["subject"] for line in lines] == ["sujet-fictif-3"]
    one = run([str(EXPORT_TOOL), "--filtered", str(tmp_path / "sujet.jsonl")], tmp_path, with_cryptography=False)
    assert one.returncode == 0 and "1 events in 1 chains" in one.stdout


def test_the_seal_tool_catches_a_cut_tail_and_recomputed_hashes(app, seal_key, tmp_path):
    record_events(app, 6)
    seal(app, seal_key, tmp_path / "sceau.json")
    sealed_head = [e for e in chain_events(app, 0) if e.type != "audit.sealed"][-1]

    rewrite_chain(app, 0, 2, '{"rang":77}')
    export(app, tmp_path / "reecrit.jsonl")
    assert (
        run([str(EXPORT_TOOL), str(tmp_path / "reecrit.jsonl")], tmp_path, with_cryptography=False).returncode == 0
    ), "recomputed hashes fool the export check alone"
    rewritten = seal_tool(tmp_path, seal_key, tmp_path / "reecrit.jsonl", tmp_path / "sceau.json")
    assert rewritten.returncode == 1
    assert f"chain 0, seq {sealed_head.seq} no longer has the sealed hash" in rewritten.stderr

    with get_db(app).transaction() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.chain == 0, AuditEvent.seq >= sealed_head.seq))
    export(app, tmp_path / "coupe.jsonl")
    cut = seal_tool(tmp_path, seal_key, tmp_path / "coupe.jsonl", tmp_path / "sceau.json")
    assert cut.returncode == 1
    assert f"chain 0, seq {sealed_head.seq} is missing from the export" in cut.stderr


def test_the_seal_tool_refuses_an_altered_checkpoint_and_a_usage_error(app, seal_key, tmp_path):
    record_events(app, 3)
    seal(app, seal_key, tmp_path / "sceau.json")
    export(app, tmp_path / "journal.jsonl")
    document = json.loads((tmp_path / "sceau.json").read_text(encoding="ascii"))
    document["chains"][0]["seq"] = 1
    (tmp_path / "faux.json").write_text(json.dumps(document), encoding="ascii")
    forged = seal_tool(tmp_path, seal_key, tmp_path / "journal.jsonl", tmp_path / "faux.json")
    assert forged.returncode == 1 and "the signature does not match its content" in forged.stderr
    usage = run([str(SEAL_TOOL), str(tmp_path / "journal.jsonl")], tmp_path, with_cryptography=True)
    assert usage.returncode == 2 and "--checkpoint" in usage.stderr
