"""Distributed key generation (Pedersen's protocol, on Feldman's verifiable secret sharing) and threshold
decryption of the totals.

Each of the n trustees draws a random polynomial ``f_j`` of degree ``k − 1``, publishes ``C_jl = a_jl·G`` for its
coefficients (each with a Schnorr proof of knowledge), and gives every other trustee ``i`` the share ``f_j(i)``,
encrypted to that trustee (:mod:`votecrypto.sealed`). Trustee ``i`` checks each share against the dealer's
commitments (``f_j(i)·G = Σ_l iˡ·C_jl``) and keeps ``s_i = Σ_j f_j(i)``. The election key is ``K = Σ_j C_j0``; its
private key ``Σ_j a_j0`` is never computed anywhere. Any k trustees can decrypt (Lagrange interpolation at 0); k − 1
learn nothing about the key (their shares are consistent with every possible key).

Decrypting the totals: for the aggregate ``(A, B)`` of an option, trustee ``i`` publishes ``D_i = s_i·A`` with a
Chaum-Pedersen proof that it used the ``s_i`` behind its public share ``S_i = s_i·G`` (which anyone computes from the
commitments). Any k of them give ``Σ λ_i·D_i = x·A``, so ``B − x·A = t·G`` and the total ``t`` is found by a
baby-step giant-step search (it is at most the number of ballots).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from votecrypto import group as g
from votecrypto.proofs import EqualLogs, RandomScalars, Schnorr

COEFFICIENT = "coefficient"
DECRYPTION = "partial-decryption"


class ThresholdError(ValueError):
    """Shares or partial decryptions that do not fit the published commitments, or too few of them."""


@dataclass(frozen=True)
class Polynomial:
    """A trustee's secret polynomial (coefficients, constant first)."""

    coefficients: tuple[bytes, ...]

    @classmethod
    def random(cls, threshold: int, random: RandomScalars = g.random_scalar) -> Polynomial:
        return cls(tuple(random() for _ in range(threshold)))

    def at(self, x: int) -> bytes:
        """``f(x)`` by Horner's rule, modulo the group order."""
        point = g.scalar(x)
        value = g.ZERO
        for coefficient in reversed(self.coefficients):
            value = g.add_scalars(g.mul_scalars(value, point), coefficient)
        return value

    def commitments(self) -> tuple[bytes, ...]:
        return tuple(g.mul_base(a) for a in self.coefficients)


def coefficient_context(ceremony: bytes, dealer: int, position: int) -> tuple[bytes, ...]:
    return (ceremony, g.index_bytes(dealer), g.index_bytes(position))


def prove_coefficients(ceremony: bytes, dealer: int, polynomial: Polynomial) -> tuple[Schnorr, ...]:
    """A proof of knowledge of each coefficient, bound to the ceremony, the dealer and the coefficient's position."""
    return tuple(
        Schnorr.prove(COEFFICIENT, coefficient_context(ceremony, dealer, position), a, g.mul_base(a))
        for position, a in enumerate(polynomial.coefficients)
    )


def verify_coefficients(ceremony: bytes, dealer: int, commitments: Sequence[bytes], proofs: Sequence[Schnorr]) -> None:
    if len(commitments) != len(proofs):
        raise ThresholdError(f"trustee {dealer}: one proof per commitment expected")
    for position, (commitment, proof) in enumerate(zip(commitments, proofs, strict=True)):
        if commitment == g.IDENTITY:
            raise ThresholdError(f"trustee {dealer}: commitment {position} is the identity")
        proof.verify(COEFFICIENT, coefficient_context(ceremony, dealer, position), commitment)


def evaluate_commitments(commitments: Sequence[bytes], x: int) -> bytes:
    """``Σ_l xˡ·C_l``: the public image ``f(x)·G`` of the committed polynomial at ``x``."""
    point = g.scalar(x)
    power = g.ONE
    total = g.IDENTITY
    for commitment in commitments:
        total = g.add(total, g.mul(power, commitment))
        power = g.mul_scalars(power, point)
    return total


def check_share(share: bytes, commitments: Sequence[bytes], recipient: int) -> None:
    """Feldman's check: the share a dealer sent ``recipient`` lies on the polynomial it committed to."""
    if not g.is_scalar(share) or g.mul_base(share) != evaluate_commitments(commitments, recipient):
        raise ThresholdError("the share does not match the dealer's commitments")


def election_key(all_commitments: Sequence[Sequence[bytes]]) -> bytes:
    """``K = Σ_j C_j0``."""
    key = g.IDENTITY
    for commitments in all_commitments:
        key = g.add(key, commitments[0])
    return key


def public_share(all_commitments: Sequence[Sequence[bytes]], trustee: int) -> bytes:
    """``S_i = s_i·G``, computed from the commitments alone."""
    total = g.IDENTITY
    for commitments in all_commitments:
        total = g.add(total, evaluate_commitments(commitments, trustee))
    return total


def combine_shares(shares: Sequence[bytes]) -> bytes:
    """``s_i = Σ_j f_j(i)``."""
    total = g.ZERO
    for share in shares:
        total = g.add_scalars(total, share)
    return total


def lagrange_at_zero(trustee: int, group: Sequence[int]) -> bytes:
    """``λ_i = Π_{j ≠ i} j / (j − i)`` over the trustees taking part."""
    numerator, denominator = g.ONE, g.ONE
    for other in group:
        if other == trustee:
            continue
        numerator = g.mul_scalars(numerator, g.scalar(other))
        denominator = g.mul_scalars(denominator, g.scalar(other - trustee))
    return g.mul_scalars(numerator, g.invert_scalar(denominator))


@dataclass(frozen=True)
class PartialDecryption:
    """Trustee ``trustee``'s ``D = s_i·A`` for each aggregate ``A``, each with its proof."""

    trustee: int
    shares: tuple[bytes, ...]
    proofs: tuple[EqualLogs, ...]


def decryption_context(election: bytes, trustee: int, index: int) -> tuple[bytes, ...]:
    return (election, g.index_bytes(trustee), g.index_bytes(index))


def partial_decrypt(election: bytes, trustee: int, secret_share: bytes, alphas: Sequence[bytes]) -> PartialDecryption:
    public = g.mul_base(secret_share)
    shares, proofs = [], []
    for index, alpha in enumerate(alphas):
        d = g.mul(secret_share, alpha)
        shares.append(d)
        proofs.append(
            EqualLogs.prove(DECRYPTION, decryption_context(election, trustee, index), secret_share, alpha, public, d)
        )
    return PartialDecryption(trustee, tuple(shares), tuple(proofs))


def verify_partial(election: bytes, partial: PartialDecryption, public: bytes, alphas: Sequence[bytes]) -> None:
    if len(partial.shares) != len(alphas) or len(partial.proofs) != len(alphas):
        raise ThresholdError(f"trustee {partial.trustee}: one share per option expected")
    for index, (alpha, d, proof) in enumerate(zip(alphas, partial.shares, partial.proofs, strict=True)):
        proof.verify(DECRYPTION, decryption_context(election, partial.trustee, index), alpha, public, d)


def combine_partials(partials: Sequence[PartialDecryption], threshold: int, options: int) -> list[bytes]:
    """``x·A`` for each option, from at least ``threshold`` partial decryptions of distinct trustees."""
    by_trustee = {p.trustee: p for p in partials}
    if len(by_trustee) < threshold:
        raise ThresholdError(f"{threshold} partial decryptions needed, {len(by_trustee)} received")
    group = sorted(by_trustee)[:threshold]
    lambdas = {i: lagrange_at_zero(i, group) for i in group}
    combined = []
    for index in range(options):
        total = g.IDENTITY
        for i in group:
            total = g.add(total, g.mul(lambdas[i], by_trustee[i].shares[index]))
        combined.append(total)
    return combined


def discrete_log(point: bytes, bound: int) -> int:
    """The ``t`` in ``[0, bound]`` with ``t·G = point`` (baby-step giant-step), or :class:`ThresholdError`."""
    step = max(1, math.isqrt(bound) + 1)
    table: dict[bytes, int] = {}
    current = g.IDENTITY
    for j in range(step):
        table.setdefault(current, j)
        current = g.add(current, g.BASE)
    giant = g.small_multiple(step)
    current = point
    for i in range(step + 1):
        found = table.get(current)
        if found is not None and i * step + found <= bound:
            return i * step + found
        current = g.sub(current, giant)
    raise ThresholdError("the decrypted total is out of range: the partial decryptions do not fit together")
