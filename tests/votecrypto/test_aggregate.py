"""The aggregate of a box: libdecaf and libsodium add up to the same bytes, which decrypt to the totals cast."""

from __future__ import annotations

import pytest

from votecrypto import group as g
from votecrypto.aggregate import CiphertextSums
from votecrypto.threshold import discrete_log

SECRET = g.random_scalar()
KEY = g.mul_base(SECRET)


def _ballot(choice: int, options: int) -> bytes:
    out = b""
    for i in range(options):
        r = g.random_scalar()
        beta = g.mul(r, KEY)
        out += g.mul_base(r) + (g.add(beta, g.BASE) if i == choice else beta)
    return out


def test_both_libraries_give_the_same_sums_and_the_totals_cast() -> None:
    options = 4
    choices = [0, 2, 2, 3, 2, 0, 1]
    decaf_sums, sodium_sums = CiphertextSums(options, use_decaf=True), CiphertextSums(options, use_decaf=False)
    for choice in choices:
        ballot = _ballot(choice, options)
        decaf_sums.add(ballot)
        sodium_sums.add(ballot)
    assert decaf_sums.sums() == sodium_sums.sums()
    assert decaf_sums.count == sodium_sums.count == len(choices)
    totals = [discrete_log(g.sub(beta, g.mul(SECRET, alpha)), len(choices)) for alpha, beta in decaf_sums.sums()]
    assert totals == [choices.count(i) for i in range(options)]


def test_an_empty_box_sums_to_the_identity() -> None:
    assert CiphertextSums(3, use_decaf=True).sums() == [(g.IDENTITY, g.IDENTITY)] * 3


@pytest.mark.parametrize("use_decaf", [True, False])
def test_a_damaged_ciphertext_is_refused(use_decaf: bool) -> None:
    sums = CiphertextSums(2, use_decaf=use_decaf)
    good = _ballot(1, 2)
    with pytest.raises(g.GroupError):
        sums.add(good[:-1])
    damaged = bytearray(good)
    damaged[63] |= 0x80  # the top bit of a point's encoding
    with pytest.raises(g.GroupError):
        sums.add(bytes(damaged))
    with pytest.raises(g.GroupError):
        sums.add(b"\xff" * 128)
