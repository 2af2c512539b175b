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
import threading
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


class _Workspace:
    """Points and scalars reused from one option to the next (allocating them is a tenth of the time otherwise);
    one per thread, since a web process verifies ballots in several threads at once."""

    def __init__(self) -> None:
        self.a, self.b = decaf.Point(), decaf.Point()
        self.a0, self.a1, self.b0, self.b1 = decaf.Point(), decaf.Point(), decaf.Point(), decaf.Point()
        self.t0, self.t1 = decaf.Point(), decaf.Point()
        self.c0, self.c1, self.z0, self.z1 = decaf.Scalar(), decaf.Scalar(), decaf.Scalar(), decaf.Scalar()
        self.minus_c0, self.minus_c1 = decaf.Scalar(), decaf.Scalar()
        self.zero = decaf.Scalar()


_local = threading.local()


def _workspace() -> _Workspace:
    space: _Workspace | None = getattr(_local, "space", None)
    if space is None:
        space = _local.space = _Workspace()
    return space


def _challenge_sum_matches(expected: bytes, *challenges: bytes) -> bool:
    return sum(g.scalar_int(c) for c in challenges) % g.ORDER == g.scalar_int(expected)


def _zero_or_one(
    key: ElectionKey, context: tuple[bytes, ...], alpha: bytes, beta: bytes, proof: ZeroOrOne, w: _Workspace
) -> bool:
    """The disjunctive proof of :class:`votecrypto.proofs.ZeroOrOne` (same commitments, same hash); ``w.a`` and
    ``w.b`` hold α and β decoded."""
    if not (
        decaf.scalar_into(w.c0, proof.c0)
        and decaf.scalar_into(w.c1, proof.c1)
        and decaf.scalar_into(w.z0, proof.z0)
        and decaf.scalar_into(w.z1, proof.z1)
    ):
        return False
    decaf.negate(w.c0, w.minus_c0)
    decaf.negate(w.c1, w.minus_c1)
    decaf.base_double_mul_public(w.z0, w.a, w.minus_c0, w.a0)  # z0·G − c0·α
    decaf.base_double_mul_public(w.z1, w.a, w.minus_c1, w.a1)  # z1·G − c1·α
    key.table.mul(w.z0, w.t0)
    decaf.add(w.t0, decaf.base_double_mul_public(w.zero, w.b, w.minus_c0, w.t1), w.b0)  # z0·K − c0·β
    key.table.mul(w.z1, w.t0)
    decaf.add(w.t0, decaf.base_double_mul_public(w.c1, w.b, w.minus_c1, w.t1), w.b1)  # z1·K − c1·(β − G)
    expected = g.hash_to_scalar(
        ZeroOrOne.TAG, *context, alpha, beta, w.a0.encode(), w.b0.encode(), w.a1.encode(), w.b1.encode()
    )
    return _challenge_sum_matches(expected, proof.c0, proof.c1)


def verify_ballot(ballot: Ballot, *, key: bytes, election: bytes, options: int, nonce: bytes | None) -> None:
    """:func:`votecrypto.ballot.verify_ballot` with libdecaf: same verdicts, same reasons."""
    check_shape(ballot, election=election, options=options, nonce=nonce)
    decoded = election_key(key)
    if decoded is None:
        raise zero_or_one_rejected(0)
    w = _workspace()
    sum_a, sum_b = decaf.identity(), decaf.identity()
    for index, choice in enumerate(ballot.choices):
        if not (decaf.decode_into(w.a, choice.alpha) and decaf.decode_into(w.b, choice.beta)):
            raise zero_or_one_rejected(index)
        context = option_context(election, ballot.nonce, index)
        if not _zero_or_one(decoded, context, choice.alpha, choice.beta, ballot.choices[index].proof, w):
            raise zero_or_one_rejected(index)
        decaf.add_into(sum_a, w.a)
        decaf.add_into(sum_b, w.b)
    assert _BASE is not None
    decaf.sub(sum_b, _BASE, sum_b)
    if not (
        decaf.scalar_into(w.c0, ballot.exactly_one.challenge) and decaf.scalar_into(w.z0, ballot.exactly_one.response)
    ):
        raise exactly_one_rejected()
    decaf.negate(w.c0, w.minus_c0)
    decaf.base_double_mul_public(w.z0, sum_a, w.minus_c0, w.a0)  # z·G − c·A
    decoded.table.mul(w.z0, w.t0)
    decaf.add(w.t0, decaf.base_double_mul_public(w.zero, sum_b, w.minus_c0, w.t1), w.b0)  # z·K − c·B
    expected = g.hash_to_scalar(
        EXACTLY_ONE, election, ballot.nonce, key, sum_a.encode(), sum_b.encode(), w.a0.encode(), w.b0.encode()
    )
    if expected != ballot.exactly_one.challenge:
        raise exactly_one_rejected()
