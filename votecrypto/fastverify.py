"""The server's verification of a ballot with libdecaf (:mod:`votecrypto.decaf`): the proofs of
:mod:`votecrypto.proofs`, checked the same way — every commitment recomputed, encoded and hashed — with fewer and
cheaper operations.

What makes it cheaper than the reference (:func:`votecrypto.ballot.verify_ballot_reference`, libsodium), per option:

- each point of the ballot is decoded once and each commitment encoded once (libsodium decodes and encodes around
  every operation);
- ``a = z·G − c·α`` is one variable-time double multiplication (G's table and α's multiples in one pass);
- ``z·K`` uses a table of the election key's multiples, built once per election and kept
  (:func:`election_key`): about the cost of a multiplication of the generator;
- ``c₀·β`` and ``c₁·β`` come out of one pass over β's multiples;
- the sums of the exactly-one proof are additions of decoded points (under a microsecond each).

The proofs are compact (challenge and response): the verifier must compute each commitment to hash it, so the
equations of a ballot cannot be folded into one random linear combination without sending the commitments, and
such a combination would need a multi-scalar multiplication, which neither libsodium nor libdecaf offers.

Soundness is that of the reference: the same hash over the same bytes decides, option by option, so a failure
names the option (or the sum) that fails, with the same reason. Everything handled here is public.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from votecrypto import decaf
from votecrypto import group as g
from votecrypto.ballot import (
    EXACTLY_ONE,
    Ballot,
    check_shape,
    exactly_one_rejected,
    option_context,
    zero_or_one_rejected,
)
from votecrypto.proofs import ZeroOrOne


def available() -> bool:
    return decaf.available()


@dataclass(frozen=True)
class ElectionKey:
    """The election key, decoded, with the table of its multiples."""

    encoded: bytes
    point: decaf.Point
    table: decaf.Table


@functools.lru_cache(maxsize=64)
def election_key(key: bytes) -> ElectionKey | None:
    """The key's precomputation (about 55 µs, 9 KiB), kept for the next ballots of the same election."""
    point = decaf.decode(key)
    if point is None:
        return None
    return ElectionKey(key, point, decaf.Table(point))


_BASE = decaf.base() if decaf.available() else None
_ZERO = decaf.scalar(g.ZERO) if decaf.available() else None


def _scalars(*encoded: bytes) -> list[decaf.Scalar] | None:
    out = []
    for value in encoded:
        s = decaf.scalar(value)
        if s is None:
            return None
        out.append(s)
    return out


def _challenge_sum_matches(expected: bytes, *challenges: bytes) -> bool:
    return sum(g.scalar_int(c) for c in challenges) % g.ORDER == g.scalar_int(expected)


def _zero_or_one(
    key: ElectionKey,
    context: tuple[bytes, ...],
    alpha: bytes,
    beta: bytes,
    a: decaf.Point,
    b: decaf.Point,
    proof: ZeroOrOne,
) -> bool:
    """The disjunctive proof of :class:`votecrypto.proofs.ZeroOrOne` (same commitments, same hash)."""
    scalars = _scalars(proof.c0, proof.c1, proof.z0, proof.z1)
    if scalars is None:
        return False
    c0, c1, z0, z1 = scalars
    minus_c0, minus_c1 = decaf.negate(c0), decaf.negate(c1)
    a0 = decaf.base_double_mul_public(z0, a, minus_c0)  # z0·G − c0·α
    a1 = decaf.base_double_mul_public(z1, a, minus_c1)  # z1·G − c1·α
    b0 = decaf.add(key.table.mul(z0), decaf.base_double_mul_public(_zero(), b, minus_c0))  # z0·K − c0·β
    b1 = decaf.add(key.table.mul(z1), decaf.base_double_mul_public(c1, b, minus_c1))  # z1·K − c1·(β − G)
    expected = g.hash_to_scalar(
        ZeroOrOne.TAG, *context, alpha, beta, a0.encode(), b0.encode(), a1.encode(), b1.encode()
    )
    return _challenge_sum_matches(expected, proof.c0, proof.c1)


def _zero() -> decaf.Scalar:
    assert _ZERO is not None
    return _ZERO


def verify_ballot(ballot: Ballot, *, key: bytes, election: bytes, options: int, nonce: bytes | None) -> None:
    """:func:`votecrypto.ballot.verify_ballot` with libdecaf: same verdicts, same reasons."""
    check_shape(ballot, election=election, options=options, nonce=nonce)
    decoded = election_key(key)
    if decoded is None:
        raise zero_or_one_rejected(0)
    sum_a: decaf.Point | None = None
    sum_b: decaf.Point | None = None
    for index, choice in enumerate(ballot.choices):
        a, b = decaf.decode(choice.alpha), decaf.decode(choice.beta)
        if a is None or b is None:
            raise zero_or_one_rejected(index)
        context = option_context(election, ballot.nonce, index)
        if not _zero_or_one(decoded, context, choice.alpha, choice.beta, a, b, choice.proof):
            raise zero_or_one_rejected(index)
        sum_a = a if sum_a is None else decaf.add(sum_a, a)
        sum_b = b if sum_b is None else decaf.add(sum_b, b)
    assert sum_a is not None and sum_b is not None and _BASE is not None
    sum_b = decaf.sub(sum_b, _BASE)
    scalars = _scalars(ballot.exactly_one.challenge, ballot.exactly_one.response)
    if scalars is None:
        raise exactly_one_rejected()
    c, z = scalars
    minus_c = decaf.negate(c)
    commitment_a = decaf.base_double_mul_public(z, sum_a, minus_c)  # z·G − c·A
    commitment_b = decaf.add(decoded.table.mul(z), decaf.base_double_mul_public(_zero(), sum_b, minus_c))
    expected = g.hash_to_scalar(
        EXACTLY_ONE,
        election,
        ballot.nonce,
        key,
        sum_a.encode(),
        sum_b.encode(),
        commitment_a.encode(),
        commitment_b.encode(),
    )
    if expected != ballot.exactly_one.challenge:
        raise exactly_one_rejected()
