"""Zero-knowledge proofs, made non-interactive with Fiat-Shamir (:func:`votecrypto.group.hash_to_scalar`).

Three sigma protocols, each proved and verified here and in the browser's module (``frontend/ballot/crypto.js``):

- :class:`Schnorr`: knowledge of ``x`` with ``X = x·G`` (a trustee's polynomial coefficients);
- :class:`EqualLogs` (Chaum-Pedersen): one ``x`` with ``X = x·G`` and ``Y = x·H`` (a ballot's choices add up to
  exactly one; a trustee's partial decryption uses the trustee's share);
- :class:`ZeroOrOne` (disjunctive Chaum-Pedersen, Cramer-Damgård-Schoenmakers): an ElGamal ciphertext encrypts 0 or 1
  without saying which.

Each proof is sent in its compact form (challenges and responses); the verifier recomputes the commitments and
checks that the hash of the statement and commitments gives back the challenge. ``context`` is what binds a proof to
where it is used (the election's hash, the ballot's challenge, the option's index, a trustee's index): every caller
passes it, so a proof lifted from one ballot, election or trustee to another fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from votecrypto import group as g

#: Where the provers take their random scalars (tests pass a deterministic source to build test vectors).
RandomScalars = Callable[[], bytes]


class ProofError(ValueError):
    """A proof that does not verify (or whose parts are not canonical)."""


@dataclass(frozen=True)
class Schnorr:
    challenge: bytes
    response: bytes

    @classmethod
    def prove(
        cls, tag: str, context: tuple[bytes, ...], secret: bytes, public: bytes, random: RandomScalars = g.random_scalar
    ) -> Schnorr:
        w = random()
        commitment = g.mul_base(w)
        c = g.hash_to_scalar(tag, *context, public, commitment)
        return cls(c, g.add_scalars(w, g.mul_scalars(c, secret)))

    def verify(self, tag: str, context: tuple[bytes, ...], public: bytes) -> None:
        g.check_scalar(self.challenge)
        g.check_scalar(self.response)
        commitment = g.sub(g.mul_base(self.response), g.mul(self.challenge, public))
        if g.hash_to_scalar(tag, *context, public, commitment) != self.challenge:
            raise ProofError(tag)


@dataclass(frozen=True)
class EqualLogs:
    """``x`` with ``X = x·G`` and ``Y = x·H``."""

    challenge: bytes
    response: bytes

    @classmethod
    def prove(
        cls,
        tag: str,
        context: tuple[bytes, ...],
        secret: bytes,
        h: bytes,
        x: bytes,
        y: bytes,
        random: RandomScalars = g.random_scalar,
    ) -> EqualLogs:
        w = random()
        a, b = g.mul_base(w), g.mul(w, h)
        c = g.hash_to_scalar(tag, *context, h, x, y, a, b)
        return cls(c, g.add_scalars(w, g.mul_scalars(c, secret)))

    def verify(self, tag: str, context: tuple[bytes, ...], h: bytes, x: bytes, y: bytes) -> None:
        g.check_scalar(self.challenge)
        g.check_scalar(self.response)
        a = g.sub(g.mul_base(self.response), g.mul(self.challenge, x))
        b = g.sub(g.mul(self.response, h), g.mul(self.challenge, y))
        if g.hash_to_scalar(tag, *context, h, x, y, a, b) != self.challenge:
            raise ProofError(tag)


@dataclass(frozen=True)
class ZeroOrOne:
    """``(α, β)`` = ``(r·G, r·K + m·G)`` with ``m`` ∈ {0, 1}: one real branch, one simulated, challenges adding up."""

    c0: bytes
    c1: bytes
    z0: bytes
    z1: bytes

    TAG = "zero-or-one"

    @classmethod
    def prove(
        cls,
        context: tuple[bytes, ...],
        key: bytes,
        alpha: bytes,
        beta: bytes,
        m: int,
        r: bytes,
        random: RandomScalars = g.random_scalar,
    ) -> ZeroOrOne:
        if m not in (0, 1):
            raise ValueError("m must be 0 or 1")
        w, c_fake, z_fake = random(), random(), random()
        # The simulated branch (1 - m): its commitments are computed backwards from a chosen challenge and response.
        fake_shift = beta if m == 1 else g.sub(beta, g.BASE)
        a_fake = g.sub(g.mul_base(z_fake), g.mul(c_fake, alpha))
        b_fake = g.sub(g.mul(z_fake, key), g.mul(c_fake, fake_shift))
        a_real, b_real = g.mul_base(w), g.mul(w, key)
        if m == 0:
            a0, b0, a1, b1 = a_real, b_real, a_fake, b_fake
        else:
            a0, b0, a1, b1 = a_fake, b_fake, a_real, b_real
        c = g.hash_to_scalar(cls.TAG, *context, alpha, beta, a0, b0, a1, b1)
        c_real = g.sub_scalars(c, c_fake)
        z_real = g.add_scalars(w, g.mul_scalars(c_real, r))
        if m == 0:
            return cls(c_real, c_fake, z_real, z_fake)
        return cls(c_fake, c_real, z_fake, z_real)

    def verify(self, context: tuple[bytes, ...], key: bytes, alpha: bytes, beta: bytes) -> None:
        for part in (self.c0, self.c1, self.z0, self.z1):
            g.check_scalar(part)
        a0 = g.sub(g.mul_base(self.z0), g.mul(self.c0, alpha))
        b0 = g.sub(g.mul(self.z0, key), g.mul(self.c0, beta))
        a1 = g.sub(g.mul_base(self.z1), g.mul(self.c1, alpha))
        b1 = g.sub(g.mul(self.z1, key), g.mul(self.c1, g.sub(beta, g.BASE)))
        expected = g.hash_to_scalar(self.TAG, *context, alpha, beta, a0, b0, a1, b1)
        if g.add_scalars(self.c0, self.c1) != expected:
            raise ProofError(self.TAG)
