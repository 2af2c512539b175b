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

``short`` (a ballot's proofs in format 2, :data:`votecrypto.ballot.FORMATS`): the challenges are integers below
2**128 (:func:`votecrypto.group.hash_to_challenge`: the same hash, its first 16 bytes), added modulo 2**128; the
responses stay full scalars. The verifier then multiplies points by 128-bit numbers only, about half the work of a
full scalar. Soundness is kept: from two accepting transcripts with the same commitments and challenges c ≠ c'
(both below 2**128), c − c' is non-zero and smaller than ℓ in absolute value, hence invertible mod ℓ, and the
witness is (z − z')·(c − c')⁻¹ (special soundness); a cheating prover's chance is 2**-128 per proof (the docs,
auditors' "Ballot box", give the whole argument).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from votecrypto import group as g

#: Where the provers take their random scalars (tests pass a deterministic source to build test vectors).
RandomScalars = Callable[[], bytes]


class ProofError(ValueError):
    """A proof that does not verify (or whose parts are not canonical)."""


def _short(encoded: bytes) -> bytes:
    """A random scalar cut to a 128-bit challenge (its first 16 bytes; the browser's module does the same)."""
    return encoded[: g.CHALLENGE_BITS // 8] + bytes(g.SCALAR_BYTES - g.CHALLENGE_BITS // 8)


def _encoded_challenge(value: int) -> bytes:
    return value.to_bytes(g.SCALAR_BYTES, "little")


def _check_challenges(short: bool, *challenges: bytes) -> None:
    for challenge in challenges:
        g.check_scalar(challenge)
        if short and g.short_challenge(challenge) is None:
            raise ProofError("a challenge of 128 bits expected")


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
        *,
        short: bool = False,
    ) -> EqualLogs:
        w = random()
        a, b = g.mul_base(w), g.mul(w, h)
        if short:
            c = _encoded_challenge(g.hash_to_challenge(tag, *context, h, x, y, a, b))
        else:
            c = g.hash_to_scalar(tag, *context, h, x, y, a, b)
        return cls(c, g.add_scalars(w, g.mul_scalars(c, secret)))

    def verify(
        self, tag: str, context: tuple[bytes, ...], h: bytes, x: bytes, y: bytes, *, short: bool = False
    ) -> None:
        _check_challenges(short, self.challenge)
        g.check_scalar(self.response)
        a = g.sub(g.mul_base(self.response), g.mul(self.challenge, x))
        b = g.sub(g.mul(self.response, h), g.mul(self.challenge, y))
        if short:
            expected = _encoded_challenge(g.hash_to_challenge(tag, *context, h, x, y, a, b))
        else:
            expected = g.hash_to_scalar(tag, *context, h, x, y, a, b)
        if expected != self.challenge:
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
        *,
        short: bool = False,
    ) -> ZeroOrOne:
        if m not in (0, 1):
            raise ValueError("m must be 0 or 1")
        w, c_fake, z_fake = random(), random(), random()
        if short:
            c_fake = _short(c_fake)
        # The simulated branch (1 - m): its commitments are computed backwards from a chosen challenge and response.
        fake_shift = beta if m == 1 else g.sub(beta, g.BASE)
        a_fake = g.sub(g.mul_base(z_fake), g.mul(c_fake, alpha))
        b_fake = g.sub(g.mul(z_fake, key), g.mul(c_fake, fake_shift))
        a_real, b_real = g.mul_base(w), g.mul(w, key)
        if m == 0:
            a0, b0, a1, b1 = a_real, b_real, a_fake, b_fake
        else:
            a0, b0, a1, b1 = a_fake, b_fake, a_real, b_real
        if short:
            c_short = g.hash_to_challenge(cls.TAG, *context, alpha, beta, a0, b0, a1, b1)
            c_real = _encoded_challenge((c_short - g.scalar_int(c_fake)) % g.CHALLENGE_BOUND)
        else:
            c_real = g.sub_scalars(g.hash_to_scalar(cls.TAG, *context, alpha, beta, a0, b0, a1, b1), c_fake)
        z_real = g.add_scalars(w, g.mul_scalars(c_real, r))
        if m == 0:
            return cls(c_real, c_fake, z_real, z_fake)
        return cls(c_fake, c_real, z_fake, z_real)

    def verify(self, context: tuple[bytes, ...], key: bytes, alpha: bytes, beta: bytes, *, short: bool = False) -> None:
        _check_challenges(short, self.c0, self.c1)
        for part in (self.z0, self.z1):
            g.check_scalar(part)
        a0 = g.sub(g.mul_base(self.z0), g.mul(self.c0, alpha))
        b0 = g.sub(g.mul(self.z0, key), g.mul(self.c0, beta))
        a1 = g.sub(g.mul_base(self.z1), g.mul(self.c1, alpha))
        b1 = g.sub(g.mul(self.z1, key), g.mul(self.c1, g.sub(beta, g.BASE)))
        if short:
            total = (g.scalar_int(self.c0) + g.scalar_int(self.c1)) % g.CHALLENGE_BOUND
            if total != g.hash_to_challenge(self.TAG, *context, alpha, beta, a0, b0, a1, b1):
                raise ProofError(self.TAG)
        elif g.add_scalars(self.c0, self.c1) != g.hash_to_scalar(self.TAG, *context, alpha, beta, a0, b0, a1, b1):
            raise ProofError(self.TAG)
