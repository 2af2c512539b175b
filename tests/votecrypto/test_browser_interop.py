"""The browser's module (frontend/ballot/crypto.js, on @noble/curves) and the server's package (votecrypto, on
libsodium) against each other, run by Node, in both proof formats: the same seeded ballot byte for byte, each side's
random ballots accepted by the other, each side's forgeries refused by the other, the same hashes, challenges and
tracking codes."""

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
from votecrypto.ballot import FORMATS, Ballot, display_code, encrypt_ballot, tracking_code, verify_ballot

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


def params(options: int, choice: int, fmt: int, seed: bytes | None = None) -> dict[str, Any]:
    task: dict[str, Any] = {
        "key": KEY.hex(),
        "election": ELECTION.hex(),
        "nonce": NONCE.hex(),
        "options": options,
        "choice": choice,
        "format": fmt,
    }
    if seed is not None:
        task["seed"] = seed.hex()
    return task


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("options", "choice"), [(2, 0), (2, 1), (4, 2), (11, 10)])
def test_a_seeded_ballot_is_the_same_bytes_on_both_sides(options: int, choice: int, fmt: int) -> None:
    seed = bytes([options, choice]) * 4
    from_python = encrypt_ballot(
        key=KEY, election=ELECTION, nonce=NONCE, options=options, choice=choice, proof_format=fmt, random=seeded(seed)
    ).to_json()
    (from_node,) = node([{"op": "encrypt", **params(options, choice, fmt, seed)}])
    assert from_node == from_python
    assert json.dumps(from_node, sort_keys=True) == json.dumps(from_python, sort_keys=True)
    # Format 2 (hex is little-endian: the upper 16 bytes are the last 32 digits): every challenge has them zero.
    short = [c["c0"][32:] == c["c1"][32:] == "0" * 32 for c in from_python["choices"]]
    assert all(short) == (fmt == 2) and any(short) == (fmt == 2)
    assert (from_python["exactly_one"]["c"][32:] == "0" * 32) == (fmt == 2)


@pytest.mark.parametrize("fmt", FORMATS)
def test_random_ballots_of_each_side_verify_on_the_other(fmt: int) -> None:
    node_ballots = node([{"op": "encrypt", **params(5, c, fmt)} for c in range(5)])
    for ballot in node_ballots:
        verify_ballot(Ballot.from_json(ballot), key=KEY, election=ELECTION, options=5, nonce=NONCE, proof_format=fmt)
    python_ballots = [
        encrypt_ballot(key=KEY, election=ELECTION, nonce=NONCE, options=5, choice=c, proof_format=fmt).to_json()
        for c in range(5)
    ]
    tasks = [{"op": "verify", "ballot": b, **params(5, 0, fmt)} for b in python_ballots]
    assert node(tasks) == [{"ok": True}] * 5
    # Each format's ballots are refused by the other's verifier.
    other = [{"op": "verify", "ballot": b, **params(5, 0, 3 - fmt)} for b in python_ballots[:2]]
    assert node(other) == [{"error": "zero_or_one:0"}] * 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_forgeries_are_refused_on_both_sides(fmt: int) -> None:
    good = encrypt_ballot(key=KEY, election=ELECTION, nonce=NONCE, options=3, choice=1, proof_format=fmt).to_json()
    swapped = json.loads(json.dumps(good))
    swapped["choices"][0], swapped["choices"][1] = swapped["choices"][1], swapped["choices"][0]
    other_nonce = encrypt_ballot(
        key=KEY, election=ELECTION, nonce=b"\x02" * 32, options=3, choice=1, proof_format=fmt
    ).to_json()
    relabelled = dict(other_nonce, nonce=NONCE.hex())
    answers = node([{"op": "verify", "ballot": b, **params(3, 0, fmt)} for b in (swapped, other_nonce, relabelled)])
    assert [a.get("error", "").split(":")[0] for a in answers] == ["zero_or_one", "wrong_nonce", "zero_or_one"]


def test_format_2_challenges_of_more_than_128_bits_are_refused_by_the_browsers_module() -> None:
    """Option 2 encrypts 0: ``c0 + 2**128`` with ``z0 + 2**128·r`` gives the same commitments and the same sum mod
    2**128, so only the bound refuses it; the exactly-one challenge moved by 2**128 likewise."""
    draws: list[bytes] = []
    source = seeded(b"stretch")

    def recorded() -> bytes:
        draws.append(source())
        return draws[-1]

    good = encrypt_ballot(
        key=KEY, election=ELECTION, nonce=NONCE, options=3, choice=1, proof_format=2, random=recorded
    ).to_json()
    shift = (2**128).to_bytes(32, "little")
    stretched_option = json.loads(json.dumps(good))
    option = stretched_option["choices"][2]
    option["c0"] = g.add_scalars(bytes.fromhex(option["c0"]), shift).hex()
    option["z0"] = g.add_scalars(bytes.fromhex(option["z0"]), g.mul_scalars(shift, draws[4 * 2])).hex()
    stretched_sum = json.loads(json.dumps(good))
    c = bytes.fromhex(stretched_sum["exactly_one"]["c"])
    stretched_sum["exactly_one"]["c"] = g.add_scalars(c, shift).hex()
    answers = node([{"op": "verify", "ballot": b, **params(3, 0, 2)} for b in (good, stretched_option, stretched_sum)])
    assert answers == [{"ok": True}, {"error": "zero_or_one:2"}, {"error": "exactly_one"}]


def test_hashes_and_tracking_codes_agree() -> None:
    parts = [b"", b"\x00", bytes(range(40))]
    ballot = encrypt_ballot(key=KEY, election=ELECTION, nonce=NONCE, options=3, choice=0, proof_format=2)
    answers = node(
        [
            {"op": "hash", "tag": "zero-or-one", "parts": [p.hex() for p in parts]},
            {"op": "challenge", "tag": "exactly-one", "parts": [p.hex() for p in parts]},
            {"op": "tracking", "ballot": ballot.to_json()},
        ]
    )
    assert answers[0] == g.hash_to_scalar("zero-or-one", *parts).hex()
    assert answers[1] == g.scalar(g.hash_to_challenge("exactly-one", *parts)).hex()
    code = tracking_code(ELECTION, ballot.ciphertexts())
    assert answers[2] == {"hex": code.hex(), "display": display_code(code)}
