"""The browser's module (frontend/ballot/crypto.js, on @noble/curves) and the server's package (votecrypto, on
libsodium) against each other, run by Node: the same seeded ballot byte for byte, each side's random ballots
accepted by the other, each side's forgeries refused by the other, the same hashes and tracking codes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests import backends
from tests.votecrypto.helpers import seeded
from votecrypto import group as g
from votecrypto.ballot import Ballot, display_code, encrypt_ballot, tracking_code, verify_ballot

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
VECTORS = FRONTEND / "ballot" / "vectors.mjs"
KEY = g.mul_base(g.hash_to_scalar("test-key", b"interop"))
ELECTION = bytes.fromhex("5e" * 32)
NONCE = bytes.fromhex("a1" * 32)


def node(tasks: list[dict[str, Any]]) -> list[Any]:
    binary = shutil.which("node")
    if binary is None or not (FRONTEND / "node_modules" / "@noble" / "curves").exists():
        backends.unavailable("Node.js and frontend/node_modules (make install) are needed for the browser cross-tests")
    assert binary is not None
    done = subprocess.run(
        [binary, str(VECTORS)], input=json.dumps(tasks), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert isinstance(answer, list)
    return answer


def params(options: int, choice: int, seed: bytes | None = None) -> dict[str, Any]:
    task: dict[str, Any] = {
        "key": KEY.hex(),
        "election": ELECTION.hex(),
        "nonce": NONCE.hex(),
        "options": options,
        "choice": choice,
    }
    if seed is not None:
        task["seed"] = seed.hex()
    return task


@pytest.mark.parametrize(("options", "choice"), [(2, 0), (2, 1), (4, 2), (11, 10)])
def test_a_seeded_ballot_is_the_same_bytes_on_both_sides(options: int, choice: int) -> None:
    seed = bytes([options, choice]) * 4
    from_python = encrypt_ballot(
        key=KEY, election=ELECTION, nonce=NONCE, options=options, choice=choice, random=seeded(seed)
    ).to_json()
    (from_node,) = node([{"op": "encrypt", **params(options, choice, seed)}])
    assert from_node == from_python
    assert json.dumps(from_node, sort_keys=True) == json.dumps(from_python, sort_keys=True)


def test_random_ballots_of_each_side_verify_on_the_other() -> None:
    node_ballots = node([{"op": "encrypt", **params(5, c)} for c in range(5)])
    for ballot in node_ballots:
        verify_ballot(Ballot.from_json(ballot), key=KEY, election=ELECTION, options=5, nonce=NONCE)
    python_ballots = [
        encrypt_ballot(key=KEY, election=ELECTION, nonce=NONCE, options=5, choice=c).to_json() for c in range(5)
    ]
    tasks = [{"op": "verify", "ballot": b, **params(5, 0)} for b in python_ballots]
    assert node(tasks) == [{"ok": True}] * 5


def test_forgeries_are_refused_on_both_sides() -> None:
    good = encrypt_ballot(key=KEY, election=ELECTION, nonce=NONCE, options=3, choice=1).to_json()
    swapped = json.loads(json.dumps(good))
    swapped["choices"][0], swapped["choices"][1] = swapped["choices"][1], swapped["choices"][0]
    other_nonce = encrypt_ballot(key=KEY, election=ELECTION, nonce=b"\x02" * 32, options=3, choice=1).to_json()
    relabelled = dict(other_nonce, nonce=NONCE.hex())
    answers = node([{"op": "verify", "ballot": b, **params(3, 0)} for b in (swapped, other_nonce, relabelled)])
    assert [a.get("error", "").split(":")[0] for a in answers] == ["zero_or_one", "wrong_nonce", "zero_or_one"]


def test_hashes_and_tracking_codes_agree() -> None:
    parts = [b"", b"\x00", bytes(range(40))]
    ballot = encrypt_ballot(key=KEY, election=ELECTION, nonce=NONCE, options=3, choice=0)
    answers = node(
        [
            {"op": "hash", "tag": "zero-or-one", "parts": [p.hex() for p in parts]},
            {"op": "tracking", "ballot": ballot.to_json()},
        ]
    )
    assert answers[0] == g.hash_to_scalar("zero-or-one", *parts).hex()
    code = tracking_code(ELECTION, ballot.ciphertexts())
    assert answers[1] == {"hex": code.hex(), "display": display_code(code)}
