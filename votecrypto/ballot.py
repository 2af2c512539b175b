"""An encrypted ballot: one ElGamal ciphertext per option (the lists, then blank), each with a proof that it encrypts
0 or 1, and one proof that they add up to exactly one.

The browser builds it (``frontend/ballot/crypto.js``); :func:`encrypt_ballot` builds the same bytes in Python (for
the load benchmarks and the tests: given the same random scalars, both produce identical ballots). The server runs
:func:`verify_ballot` before it accepts a ballot, and the election record's verifier does it again for every ballot.

Every proof is bound to the election (its hash covers the key, the options and the trustees) and to the ballot's
``nonce``: a challenge the portal derives for the voter's session when it serves the ballot page and never stores. A
ciphertext and proof copied from another voter's ballot carry that voter's nonce, so they fail; an exact copy is also
refused by the ballot box's primary key (the tracking code is a digest of the ciphertexts).

JSON form (hex strings are lowercase, 64 characters: one point or scalar each)::

    {"election": "<election hash>", "nonce": "<ballot challenge>",
     "choices": [{"alpha": …, "beta": …, "c0": …, "c1": …, "z0": …, "z1": …}, …],   # lists in order, blank last
     "exactly_one": {"c": …, "z": …}}

The proofs' format is the election manifest's ``version`` (:data:`FORMATS`), so that a ballot of one format is never
checked as the other: the hash every proof is bound to covers it. Format 1: every challenge is a scalar mod ℓ.
Format 2 (new elections): every challenge (``c0``, ``c1``, ``exactly_one.c``) is below 2**128 and written as a
scalar whose upper 16 bytes are zero; ``c0 + c1`` is compared with the hash modulo 2**128
(:mod:`votecrypto.proofs`, ``short``). The JSON shape is the same.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from votecrypto import group as g
from votecrypto.proofs import EqualLogs, ProofError, RandomScalars, ZeroOrOne

EXACTLY_ONE = "exactly-one"
_HEX = re.compile(r"[0-9a-f]{64}")
CHOICE_FIELDS = ("alpha", "beta", "c0", "c1", "z0", "z1")
BALLOT_FIELDS = ("choices", "election", "exactly_one", "nonce")
#: Largest number of options (lists + blank) a ballot may carry: bounds the work of verifying one.
MAX_OPTIONS = 64
#: The proofs' formats (the manifest's version): 1, full challenges; 2, 128-bit challenges.
FORMATS = (1, 2)
#: The format of the elections created from now on.
CURRENT_FORMAT = 2


def short_challenges(proof_format: int) -> bool:
    """Whether ``proof_format``'s challenges are 128-bit (ValueError for a format this code does not know)."""
    if proof_format not in FORMATS:
        raise ValueError(f"unknown ballot format {proof_format}")
    return proof_format == 2


class BallotRejected(ValueError):
    """Why a ballot is refused: ``reason`` is a stable code; ``index`` the option concerned, if one is."""

    def __init__(self, reason: str, detail: str = "", index: int | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.index = index


@dataclass(frozen=True)
class Choice:
    alpha: bytes
    beta: bytes
    proof: ZeroOrOne


@dataclass(frozen=True)
class Ballot:
    election: bytes
    nonce: bytes
    choices: tuple[Choice, ...]
    exactly_one: EqualLogs

    def ciphertexts(self) -> bytes:
        """The ciphertexts, concatenated: ``α₀ β₀ α₁ β₁ …`` (what the tally adds up)."""
        return b"".join(choice.alpha + choice.beta for choice in self.choices)

    def proofs(self) -> bytes:
        """The proofs, concatenated: the nonce, ``c0 c1 z0 z1`` per option, then ``c z`` of the sum."""
        parts = [self.nonce]
        for choice in self.choices:
            parts += [choice.proof.c0, choice.proof.c1, choice.proof.z0, choice.proof.z1]
        parts += [self.exactly_one.challenge, self.exactly_one.response]
        return b"".join(parts)

    @classmethod
    def from_parts(cls, election: bytes, ciphertexts: bytes, proofs: bytes) -> Ballot:
        """The inverse of :meth:`ciphertexts` and :meth:`proofs` (as the ballot box stores them)."""
        count = len(ciphertexts) // 64
        if len(ciphertexts) != 64 * count or len(proofs) != 32 + 128 * count + 64:
            raise BallotRejected("malformed", "stored ballot of unexpected length")
        words = [proofs[i : i + 32] for i in range(0, len(proofs), 32)]
        choices = tuple(
            Choice(
                ciphertexts[64 * i : 64 * i + 32],
                ciphertexts[64 * i + 32 : 64 * i + 64],
                ZeroOrOne(*words[1 + 4 * i : 5 + 4 * i]),
            )
            for i in range(count)
        )
        return cls(election, words[0], choices, EqualLogs(words[-2], words[-1]))

    def to_json(self) -> dict[str, Any]:
        return {
            "choices": [
                {
                    "alpha": c.alpha.hex(),
                    "beta": c.beta.hex(),
                    "c0": c.proof.c0.hex(),
                    "c1": c.proof.c1.hex(),
                    "z0": c.proof.z0.hex(),
                    "z1": c.proof.z1.hex(),
                }
                for c in self.choices
            ],
            "election": self.election.hex(),
            "exactly_one": {"c": self.exactly_one.challenge.hex(), "z": self.exactly_one.response.hex()},
            "nonce": self.nonce.hex(),
        }

    @classmethod
    def from_json(cls, data: Any) -> Ballot:
        """Parse strictly: exactly the expected keys, canonical hex, canonical points and scalars."""
        if not isinstance(data, dict) or sorted(data) != list(BALLOT_FIELDS):
            raise BallotRejected("malformed", f"a ballot has exactly the fields {', '.join(BALLOT_FIELDS)}")
        choices = data["choices"]
        if not isinstance(choices, list) or not 2 <= len(choices) <= MAX_OPTIONS:
            raise BallotRejected("malformed", "choices must be a list of 2 to 64 options")
        parsed = []
        for index, choice in enumerate(choices):
            if not isinstance(choice, dict) or sorted(choice) != list(CHOICE_FIELDS):
                raise BallotRejected("malformed", f"choice {index}: fields {', '.join(CHOICE_FIELDS)}", index)
            alpha, beta = (_point(choice[name], f"choice {index}.{name}", index) for name in ("alpha", "beta"))
            scalars = [_scalar(choice[name], f"choice {index}.{name}", index) for name in ("c0", "c1", "z0", "z1")]
            parsed.append(Choice(alpha, beta, ZeroOrOne(*scalars)))
        exactly_one = data["exactly_one"]
        if not isinstance(exactly_one, dict) or sorted(exactly_one) != ["c", "z"]:
            raise BallotRejected("malformed", "exactly_one has the fields c, z")
        return cls(
            election=_hex(data["election"], "election"),
            nonce=_hex(data["nonce"], "nonce"),
            choices=tuple(parsed),
            exactly_one=EqualLogs(
                _scalar(exactly_one["c"], "exactly_one.c"), _scalar(exactly_one["z"], "exactly_one.z")
            ),
        )


def _hex(value: Any, where: str, index: int | None = None) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise BallotRejected("malformed", f"{where}: 64 lowercase hexadecimal digits expected", index)
    return bytes.fromhex(value)


def _point(value: Any, where: str, index: int | None = None) -> bytes:
    encoded = _hex(value, where, index)
    if not g.is_point(encoded):
        raise BallotRejected("malformed", f"{where}: not a ristretto255 point", index)
    return encoded


def _scalar(value: Any, where: str, index: int | None = None) -> bytes:
    encoded = _hex(value, where, index)
    if not g.is_scalar(encoded):
        raise BallotRejected("malformed", f"{where}: not a canonical scalar", index)
    return encoded


def option_context(election: bytes, nonce: bytes, index: int) -> tuple[bytes, ...]:
    return (election, nonce, g.index_bytes(index))


def encrypt_ballot(
    *,
    key: bytes,
    election: bytes,
    nonce: bytes,
    options: int,
    choice: int,
    proof_format: int,
    random: RandomScalars = g.random_scalar,
) -> Ballot:
    """Encrypt ``choice`` (0-based: the lists in order, then ``options - 1`` for blank), as the browser does, with
    the proofs of ``proof_format`` (the manifest's version).

    The random scalars are drawn in a fixed order (per option: ``r``, then the proof's ``w``, simulated challenge and
    response; then the sum proof's ``w``), which is what lets a deterministic source reproduce the browser's bytes.
    """
    if not 0 <= choice < options:
        raise ValueError("choice out of range")
    short = short_challenges(proof_format)
    choices = []
    total_r = g.ZERO
    alphas, betas = [], []
    for index in range(options):
        m = 1 if index == choice else 0
        r = random()
        alpha = g.mul_base(r)
        beta = g.mul(r, key)
        if m:
            beta = g.add(beta, g.BASE)
        proof = ZeroOrOne.prove(option_context(election, nonce, index), key, alpha, beta, m, r, random, short=short)
        choices.append(Choice(alpha, beta, proof))
        total_r = g.add_scalars(total_r, r)
        alphas.append(alpha)
        betas.append(beta)
    big_a, big_b = _sums(alphas, betas)
    exactly_one = EqualLogs.prove(EXACTLY_ONE, (election, nonce), total_r, key, big_a, big_b, random, short=short)
    return Ballot(election, nonce, tuple(choices), exactly_one)


def _sums(alphas: list[bytes], betas: list[bytes]) -> tuple[bytes, bytes]:
    """``(Σα, Σβ − G)``: an encryption of zero exactly when the choices add up to one."""
    big_a, big_b = alphas[0], betas[0]
    for alpha, beta in zip(alphas[1:], betas[1:], strict=True):
        big_a, big_b = g.add(big_a, alpha), g.add(big_b, beta)
    return big_a, g.sub(big_b, g.BASE)


def verify_ballot(
    ballot: Ballot, *, key: bytes, election: bytes, options: int, nonce: bytes | None, proof_format: int
) -> None:
    """Raise :class:`BallotRejected` unless every proof of ``ballot`` holds for this election (and this nonce), in
    the election's ``proof_format`` (its manifest's version).

    ``nonce`` None (the record's verifier) checks the proofs against the nonce the ballot carries. The proofs are
    checked with libdecaf where it is installed (:mod:`votecrypto.fastverify`: the same commitments, recomputed
    about twice as fast), else with libsodium (:func:`verify_ballot_reference`); both give the same verdict and the
    same reason for every ballot (``tests/votecrypto/test_fastverify.py``).
    """
    from votecrypto import fastverify

    if fastverify.available():
        fastverify.verify_ballot(
            ballot, key=key, election=election, options=options, nonce=nonce, proof_format=proof_format
        )
    else:
        verify_ballot_reference(
            ballot, key=key, election=election, options=options, nonce=nonce, proof_format=proof_format
        )


def check_shape(ballot: Ballot, *, election: bytes, options: int, nonce: bytes | None) -> None:
    """What is checked before any proof: the election, the nonce, the number of options, no option left in clear."""
    if ballot.election != election:
        raise BallotRejected("wrong_election", "the ballot was prepared for another election")
    if nonce is not None and ballot.nonce != nonce:
        raise BallotRejected("wrong_nonce", "the ballot was not prepared on this voter's ballot page")
    if len(ballot.choices) != options:
        raise BallotRejected("malformed", f"{options} options expected, {len(ballot.choices)} received")
    for index, choice in enumerate(ballot.choices):
        if choice.alpha == g.IDENTITY:
            raise BallotRejected("malformed", f"choice {index} is not encrypted", index)


def zero_or_one_rejected(index: int) -> BallotRejected:
    return BallotRejected("zero_or_one", f"choice {index}: the proof that it counts 0 or 1 fails", index)


def exactly_one_rejected() -> BallotRejected:
    return BallotRejected("exactly_one", "the proof that the ballot holds exactly one choice fails")


def verify_ballot_reference(
    ballot: Ballot, *, key: bytes, election: bytes, options: int, nonce: bytes | None, proof_format: int
) -> None:
    """:func:`verify_ballot` with libsodium only: each proof's :meth:`verify`, option by option."""
    short = short_challenges(proof_format)
    check_shape(ballot, election=election, options=options, nonce=nonce)
    for index, choice in enumerate(ballot.choices):
        try:
            choice.proof.verify(
                option_context(election, ballot.nonce, index), key, choice.alpha, choice.beta, short=short
            )
        except (ProofError, g.GroupError):
            raise zero_or_one_rejected(index) from None
    big_a, big_b = _sums([c.alpha for c in ballot.choices], [c.beta for c in ballot.choices])
    try:
        ballot.exactly_one.verify(EXACTLY_ONE, (election, ballot.nonce), key, big_a, big_b, short=short)
    except (ProofError, g.GroupError):
        raise exactly_one_rejected() from None


def tracking_code(election: bytes, ciphertexts: bytes) -> bytes:
    """The ballot's tracking code: SHA-256 over the domain, the election hash and the ciphertexts.

    It covers the ciphertexts only, not the proofs, so two ballots with the same ciphertexts have the same code and
    the ballot box (whose primary key it is) refuses the second one.
    """
    return hashlib.sha256(g.DOMAIN + b"tracking-code\x00" + election + ciphertexts).digest()


def display_code(code: bytes) -> str:
    """The tracking code as voters read it: base 32 (RFC 4648), in 13 groups of 4 (``ABCD-EFGH-…``)."""
    text = base64.b32encode(code).decode("ascii").rstrip("=")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def parse_display_code(text: str) -> bytes | None:
    """The digest behind a tracking code as a voter may type it (any case, spaces or dashes), or None."""
    cleaned = re.sub(r"[\s-]", "", text).upper()
    if not re.fullmatch(r"[A-Z2-7]{52}", cleaned):
        return None
    try:
        raw = base64.b32decode(cleaned + "====")
    except ValueError:
        return None
    return raw if len(raw) == 32 and display_code(raw).replace("-", "") == cleaned else None
