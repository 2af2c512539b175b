"""The homomorphic aggregate of a ballot box: per option, ``(Σα, Σβ)`` over every ballot's ciphertexts.

Adding up is the tally's cost: two points per option and ballot, 11 million for 500,000 ballots of 10 lists. With
libsodium each addition decodes both points and encodes the sum (about 15 µs here); with libdecaf
(:mod:`votecrypto.decaf`) each point is decoded once into a reused buffer and added to a running sum kept decoded
(about 7 µs), and the sums are encoded once at the end. libsodium is used where libdecaf is not installed; both give
the same bytes (``tests/votecrypto/test_aggregate.py``).
"""

from __future__ import annotations

from votecrypto import decaf
from votecrypto import group as g


class CiphertextSums:
    """Running sums of the ciphertexts of ``options`` options; :meth:`add` one ballot's ``α₀ β₀ α₁ β₁ …`` at a time."""

    def __init__(self, options: int, *, use_decaf: bool | None = None) -> None:
        self.options = options
        self.count = 0
        self._decaf = decaf.available() if use_decaf is None else use_decaf
        if self._decaf:
            self._totals = [decaf.identity() for _ in range(2 * options)]
            self._scratch = decaf.Point()
        else:
            self._encoded = [g.IDENTITY] * (2 * options)

    def add(self, ciphertexts: bytes) -> None:
        """Add one ballot; :class:`votecrypto.group.GroupError` if it is not ``options`` pairs of canonical points."""
        if len(ciphertexts) != 64 * self.options:
            raise g.GroupError(f"{self.options} ciphertexts expected")
        if self._decaf:
            scratch = self._scratch
            for i, total in enumerate(self._totals):
                if not decaf.decode_into(scratch, ciphertexts[32 * i : 32 * i + 32]):
                    raise g.GroupError("not a canonical ristretto255 point")
                decaf.add_into(total, scratch)
        else:
            for i in range(2 * self.options):
                point = g.check_point(ciphertexts[32 * i : 32 * i + 32])
                self._encoded[i] = g.add(self._encoded[i], point)
        self.count += 1

    def sums(self) -> list[tuple[bytes, bytes]]:
        """``(Σα, Σβ)`` per option, encoded."""
        encoded = [total.encode() for total in self._totals] if self._decaf else list(self._encoded)
        return [(encoded[2 * i], encoded[2 * i + 1]) for i in range(self.options)]
