"""The server's fast verification (libdecaf) against the reference (libsodium): one group, one verdict.

libdecaf must be there wherever the portal runs (Debian's ``libdecaf0``, installed by ``.ci/run`` and the
Dockerfile): its absence is a failure, not a skip. Every forged-ballot test of ``test_ballot.py`` runs both back
ends and compares their reasons; here, the group operations agree byte for byte and random damage to valid ballots
gets the same verdict, the same reason and the same option from both.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Callable

import pytest

from tests.votecrypto.helpers import seeded
from votecrypto import decaf, fastverify
from votecrypto import group as g
from votecrypto.ballot import (
    FORMATS,
    Ballot,
    BallotRejected,
    encrypt_ballot,
    verify_ballot_reference,
)
from votecrypto.proofs import EqualLogs, ZeroOrOne

KEY = g.mul_base(g.random_scalar())
ELECTION = bytes.fromhex("12" * 32)
NONCE = bytes.fromhex("34" * 32)


def test_libdecaf_is_installed() -> None:
    assert decaf.available(), "libdecaf0 is missing (Debian): .ci/run and the Dockerfile install it"


def test_the_two_libraries_implement_the_same_group() -> None:
    assert decaf.base().encode() == g.BASE
    identity = decaf.decode(g.IDENTITY)
    assert identity is not None and identity.encode() == g.IDENTITY
    for _ in range(50):
        s, t = g.random_scalar(), g.random_scalar()
        p, q = g.mul_base(g.random_scalar()), g.mul_base(g.random_scalar())
        dp, dq, ds, dt = decaf.decode(p), decaf.decode(q), decaf.scalar(s), decaf.scalar(t)
        assert dp is not None and dq is not None and ds is not None and dt is not None
        assert dp.encode() == p
        assert decaf.add(dp, dq).encode() == g.add(p, q)
        assert decaf.sub(dp, dq).encode() == g.sub(p, q)
        assert decaf.mul(ds, dp).encode() == g.mul(s, p)
        assert decaf.base_double_mul_public(ds, dp, dt).encode() == g.add(g.mul_base(s), g.mul(t, p))
        assert decaf.base_double_mul_public(ds, dp, decaf.Scalar()).encode() == g.mul_base(s)
        assert decaf.base_mul(ds).encode() == g.mul_base(s)
        first, second = decaf.dual_mul(dp, ds, dt)
        assert (first.encode(), second.encode()) == (g.mul(s, p), g.mul(t, p))
        assert decaf.Table(dp).mul(ds).encode() == g.mul(s, p)
        assert decaf.add(decaf.mul(decaf.negate(ds), dp), decaf.mul(ds, dp)).encode() == g.IDENTITY


def test_both_refuse_the_same_encodings() -> None:
    rng = random.Random(15)
    for _ in range(3000):
        raw = rng.randbytes(32)
        assert (decaf.decode(raw) is not None) == g.is_point(raw), raw.hex()
    for value in (g.ORDER, g.ORDER + 1, 2**256 - 1):
        assert decaf.scalar(value.to_bytes(32, "little")) is None
        assert not g.is_scalar(value.to_bytes(32, "little"))
    p = bytearray(g.mul_base(g.random_scalar()))
    p[31] |= 0x80
    assert decaf.decode(bytes(p)) is None and not g.is_point(bytes(p))


def _verdicts(b: Ballot, options: int, fmt: int) -> tuple[object, object]:
    out = []
    for check in (verify_ballot_reference, fastverify.verify_ballot):
        try:
            check(b, key=KEY, election=ELECTION, options=options, nonce=NONCE, proof_format=fmt)
            out.append(None)
        except BallotRejected as exc:
            out.append((exc.reason, exc.index, exc.detail))
    return out[0], out[1]


def _damaged(b: Ballot, rng: random.Random, fmt: int) -> Ballot:
    """One random change: a scalar of a proof, a ciphertext from another ballot, or two options swapped."""
    choices = list(b.choices)
    i = rng.randrange(len(choices))
    kind = rng.randrange(4)
    if kind == 0:
        field = rng.choice(["c0", "c1", "z0", "z1"])
        proof = dataclasses.replace(choices[i].proof, **{field: g.random_scalar()})
        choices[i] = dataclasses.replace(choices[i], proof=proof)
    elif kind == 1:
        other = encrypt_ballot(
            key=KEY, election=ELECTION, nonce=NONCE, options=len(choices), choice=0, proof_format=fmt
        )
        choices[i] = dataclasses.replace(choices[i], beta=other.choices[i].beta)
    elif kind == 2:
        j = (i + 1) % len(choices)
        choices[i], choices[j] = choices[j], choices[i]
    else:
        return dataclasses.replace(b, exactly_one=EqualLogs(b.exactly_one.challenge, g.random_scalar()))
    return dataclasses.replace(b, choices=tuple(choices))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("options", [2, 5, 11])
def test_same_verdict_reason_and_option_on_valid_and_damaged_ballots(options: int, fmt: int) -> None:
    rng = random.Random(options)
    for n in range(12):
        b = encrypt_ballot(
            key=KEY, election=ELECTION, nonce=NONCE, options=options, choice=n % options, proof_format=fmt
        )
        assert _verdicts(b, options, fmt) == (None, None)
        reference, fast = _verdicts(_damaged(b, rng, fmt), options, fmt)
        assert reference is not None and fast == reference
        # The same ballot checked in the other format: refused by both, at its first option.
        assert (
            _verdicts(b, options, 3 - fmt)
            == (("zero_or_one", 0, "choice 0: the proof that it counts 0 or 1 fails"),) * 2
        )


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_forged_option_is_named_by_both(fmt: int) -> None:
    """A list counted twice (an encryption of 2 with a proof made for 1) at option 3 of 11."""
    b = encrypt_ballot(key=KEY, election=ELECTION, nonce=NONCE, options=11, choice=0, proof_format=fmt)
    r = g.random_scalar()
    alpha, beta = g.mul_base(r), g.add(g.mul(r, KEY), g.small_multiple(2))
    proof = ZeroOrOne.prove((ELECTION, NONCE, g.index_bytes(3)), KEY, alpha, beta, 1, r, short=fmt == 2)
    choices = list(b.choices)
    choices[3] = dataclasses.replace(choices[3], alpha=alpha, beta=beta, proof=proof)
    reference, fast = _verdicts(dataclasses.replace(b, choices=tuple(choices)), 11, fmt)
    assert reference == fast == ("zero_or_one", 3, "choice 3: the proof that it counts 0 or 1 fails")


def test_the_election_key_table_is_kept_per_key() -> None:
    fastverify.election_key.cache_clear()
    first = fastverify.election_key(KEY)
    assert first is not None and fastverify.election_key(KEY) is first
    assert fastverify.election_key(bytes.fromhex("ff" * 32)) is None


def test_the_hash_as_an_integer_is_the_hash_as_a_scalar() -> None:
    rng = random.Random(7)
    for size in (0, 4, 32, 32, 64, 200):
        parts = tuple(rng.randbytes(size) for _ in range(rng.randrange(1, 9)))
        assert g.hash_to_int("zero-or-one", *parts) == g.scalar_int(g.hash_to_scalar("zero-or-one", *parts))
        # Format 2's challenge: the same digest's first 16 bytes, i.e. the 64-byte digest mod 2**128.
        digest = hashlib.sha512(g.hash_text("zero-or-one", *parts)).digest()
        assert g.hash_to_challenge("zero-or-one", *parts) == int.from_bytes(digest, "little") % 2**128


def _drawing_zero_at(*draws: int) -> Callable[[], bytes]:
    """Random scalars, except zero at the given draws (encrypt_ballot draws r, w, the simulated challenge and the
    simulated response per option: draw 4i + 2 is option i's simulated challenge, 4i + 3 its simulated response)."""
    source = seeded(b"zero-at")
    count = 0

    def draw() -> bytes:
        nonlocal count
        count += 1
        value = source()
        return g.ZERO if count - 1 in draws else value

    return draw


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_valid_ballot_with_zero_challenges_and_responses_is_accepted_by_both(fmt: int) -> None:
    """libdecaf's double multiplication returns the identity when its variable-base scalar is zero: ``z·G − 0·α``
    must still be ``z·G``. Option 3 (the choice) has c0 = 0, option 1 has c1 = 0, option 0 a zero response."""
    b = encrypt_ballot(
        key=KEY,
        election=ELECTION,
        nonce=NONCE,
        options=5,
        choice=3,
        proof_format=fmt,
        random=_drawing_zero_at(4 * 3 + 2, 4 * 1 + 2, 3),
    )
    assert b.choices[3].proof.c0 == g.ZERO and b.choices[1].proof.c1 == g.ZERO
    assert b.choices[0].proof.z1 == g.ZERO
    assert _verdicts(b, 5, fmt) == (None, None)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_forgery_built_on_libdecafs_zero_scalar_quirk_is_refused_by_both(fmt: int) -> None:
    """A proof whose challenge c0 is zero and whose commitment a0 is the identity (what libdecaf's double
    multiplication gives for ``z0·G − 0·α``) instead of ``z0·G``: a verifier that trusted that result would accept
    a ballot the reference and the record's verifier refuse."""
    draws: list[bytes] = []
    source = seeded(b"quirk")

    def recorded() -> bytes:
        draws.append(source())
        return draws[-1]

    b = encrypt_ballot(key=KEY, election=ELECTION, nonce=NONCE, options=5, choice=2, proof_format=fmt, random=recorded)
    honest = b.choices[2]
    r = draws[4 * 2]  # option 2's encryption randomness: α and β are kept, only their proof is replaced
    z0, w = g.random_scalar(), g.random_scalar()
    a0, b0, a1, b1 = g.IDENTITY, g.mul(z0, KEY), g.mul_base(w), g.mul(w, KEY)
    context = (ELECTION, NONCE, g.index_bytes(2))
    if fmt == 2:
        c1 = g.scalar(g.hash_to_challenge(ZeroOrOne.TAG, *context, honest.alpha, honest.beta, a0, b0, a1, b1))
    else:
        c1 = g.hash_to_scalar(ZeroOrOne.TAG, *context, honest.alpha, honest.beta, a0, b0, a1, b1)
    forged = ZeroOrOne(g.ZERO, c1, z0, g.add_scalars(w, g.mul_scalars(c1, r)))
    choices = list(b.choices)
    choices[2] = dataclasses.replace(honest, proof=forged)
    reference, fast = _verdicts(dataclasses.replace(b, choices=tuple(choices)), 5, fmt)
    assert reference == fast == ("zero_or_one", 2, "choice 2: the proof that it counts 0 or 1 fails")
