"""The trustee's private file: readable with the passphrase only; an edited header or body is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from votecrypto import keyfile

FAST = {"opslimit": 1, "memlimit": 8 * 1024 * 1024}


def test_round_trip_and_permissions(tmp_path: Path) -> None:
    path = tmp_path / "garant.key"
    keyfile.write(path, {"trustee": 2}, {"share": "ab" * 32}, "une phrase de passe fictive", **FAST)
    assert path.stat().st_mode & 0o777 == 0o600
    header, secret = keyfile.read(path, "une phrase de passe fictive")
    assert header["trustee"] == 2 and secret == {"share": "ab" * 32}
    assert "ab" * 32 not in path.read_text()


def test_wrong_passphrase_and_tampering_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "garant.key"
    keyfile.write(path, {"trustee": 2}, {"share": "ab" * 32}, "une phrase de passe fictive", **FAST)
    with pytest.raises(keyfile.KeyFileError, match="phrase de passe incorrecte"):
        keyfile.read(path, "une autre phrase de passe")
    document = json.loads(path.read_text())
    document["header"]["trustee"] = 3
    path.write_text(json.dumps(document))
    with pytest.raises(keyfile.KeyFileError, match="altéré"):
        keyfile.read(path, "une phrase de passe fictive")


def test_short_passphrases_are_refused(tmp_path: Path) -> None:
    with pytest.raises(keyfile.KeyFileError, match="12 caractères"):
        keyfile.write(tmp_path / "k", {}, {}, "court", **FAST)
