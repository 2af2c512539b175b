"""The key ceremony and the threshold decryption of the totals: any k trustees decrypt, k − 1 decrypt nothing,
and over random elections the decrypted totals are the choices that were cast (property test)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.votecrypto.helpers import Ceremony, run_ceremony
from votecrypto import group as g
from votecrypto.ballot import FORMATS, encrypt_ballot, verify_ballot, verify_ballot_reference
from votecrypto.proofs import ProofError
from votecrypto.sealed import SealedError, open_share, seal_share
from votecrypto.threshold import (
    PartialDecryption,
    ThresholdError,
    check_share,
    combine_partials,
    discrete_log,
    lagrange_at_zero,
    partial_decrypt,
    public_share,
    verify_partial,
)

NONCE = b"\x01" * 32


@pytest.fixture(scope="module")
def ceremony() -> Ceremony:
    return run_ceremony(n=5, k=3)


def aggregate(ballots: list, options: int) -> list[tuple[bytes, bytes]]:
    sums = [(g.IDENTITY, g.IDENTITY)] * options
    for b in ballots:
        sums = [(g.add(a, c.alpha), g.add(s, c.beta)) for (a, s), c in zip(sums, b.choices, strict=True)]
    return sums


def tally(
    ceremony: Ceremony, election: bytes, sums: list[tuple[bytes, bytes]], trustees: list[int], bound: int
) -> list[int]:
    alphas = [a for a, _ in sums]
    partials = []
    for index in trustees:
        trustee = ceremony.trustees[index - 1]
        partial = partial_decrypt(election, index, trustee.secret_share, alphas)
        verify_partial(election, partial, public_share([p.commitments for p in ceremony.publics], index), alphas)
        partials.append(partial)
    combined = combine_partials(partials, ceremony.threshold, len(sums))
    return [discrete_log(g.sub(beta, xa), bound) for (_, beta), xa in zip(sums, combined, strict=True)]


def test_every_share_matches_its_public_image_and_nobody_holds_the_key(ceremony: Ceremony) -> None:
    commitments = [p.commitments for p in ceremony.publics]
    for trustee in ceremony.trustees:
        assert g.mul_base(trustee.secret_share) == public_share(commitments, trustee.index)
    # The key's secret is the interpolation at 0 of any k shares: it matches K, and no trustee's file holds it.
    group = [1, 3, 5]
    secret = g.ZERO
    for i in group:
        secret = g.add_scalars(secret, g.mul_scalars(lagrange_at_zero(i, group), ceremony.trustees[i - 1].secret_share))
    assert g.mul_base(secret) == ceremony.key
    assert all(t.secret_share != secret and secret not in t.polynomial.coefficients for t in ceremony.trustees)


def test_fewer_than_k_trustees_decrypt_nothing(ceremony: Ceremony) -> None:
    manifest = ceremony.manifest(lists=2)
    election = manifest.hash()
    ballots = [
        encrypt_ballot(key=ceremony.key, election=election, nonce=NONCE, options=3, choice=c, proof_format=2)
        for c in (0, 0, 2)
    ]
    sums = aggregate(ballots, 3)
    for pair in itertools.combinations(range(1, 6), 2):
        with pytest.raises(ThresholdError, match="3 partial decryptions needed, 2 received"):
            tally(ceremony, election, sums, list(pair), 3)
        # Interpolating two shares as if they were enough gives a value unrelated to the key: no total comes out.
        wrong = g.ZERO
        for i in pair:
            wrong = g.add_scalars(
                wrong, g.mul_scalars(lagrange_at_zero(i, list(pair)), ceremony.trustees[i - 1].secret_share)
            )
        assert g.mul_base(wrong) != ceremony.key
        with pytest.raises(ThresholdError, match="out of range"):
            discrete_log(g.sub(sums[0][1], g.mul(wrong, sums[0][0])), 3)
    # Any three of the five give the totals.
    for group in itertools.combinations(range(1, 6), 3):
        assert tally(ceremony, election, sums, list(group), 3) == [2, 0, 1]


def test_a_false_partial_decryption_is_refused(ceremony: Ceremony) -> None:
    election = ceremony.manifest().hash()
    alphas = [g.mul_base(g.random_scalar()) for _ in range(2)]
    honest = partial_decrypt(election, 2, ceremony.trustees[1].secret_share, alphas)
    public = public_share([p.commitments for p in ceremony.publics], 2)
    forged = PartialDecryption(2, (g.mul_base(g.random_scalar()), honest.shares[1]), honest.proofs)
    with pytest.raises(ProofError):
        verify_partial(election, forged, public, alphas)
    # Another trustee's share under trustee 2's name.
    impostor = partial_decrypt(election, 2, ceremony.trustees[2].secret_share, alphas)
    with pytest.raises(ProofError):
        verify_partial(election, impostor, public, alphas)
    with pytest.raises(ProofError):
        verify_partial(b"\x00" * 32, honest, public, alphas)


def test_a_share_off_the_dealers_polynomial_is_refused(ceremony: Ceremony) -> None:
    dealer = ceremony.trustees[0]
    with pytest.raises(ThresholdError):
        check_share(g.add_scalars(dealer.polynomial.at(2), g.ONE), ceremony.publics[0].commitments, 2)
    sealed = seal_share(ceremony.id, 1, 2, dealer.polynomial.at(2), ceremony.trustees[1].box.public)
    with pytest.raises(SealedError, match="another ceremony or trustee"):
        open_share(ceremony.id, 1, 3, sealed, ceremony.trustees[1].box)
    with pytest.raises(SealedError, match="cannot be opened"):
        open_share(ceremony.id, 1, 2, sealed, ceremony.trustees[2].box)


def test_the_manifest_binds_its_trustees_and_key(ceremony: Ceremony) -> None:
    manifest = ceremony.manifest()
    manifest.check()
    import dataclasses

    with pytest.raises(ValueError, match="sum of the trustees"):
        dataclasses.replace(manifest, public_key=g.mul_base(g.random_scalar())).check()
    renamed = dataclasses.replace(manifest, lists=((1, "Autre nom"), *manifest.lists[1:]))
    assert renamed.hash() != manifest.hash()
    # The version (the ballots' proof format) is hashed: a ballot of one format is never checked as the other's.
    assert manifest.version == 2 and manifest.to_json()["version"] == 2
    assert dataclasses.replace(manifest, version=1).hash() != manifest.hash()
    with pytest.raises(ValueError, match="unknown manifest version"):
        dataclasses.replace(manifest, version=3)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lists=st.integers(min_value=1, max_value=4),
    data=st.data(),
    trustees=st.sampled_from([(1, 1), (2, 2), (3, 2), (4, 3)]),
    version=st.sampled_from(FORMATS),
)
def test_decrypted_totals_equal_the_choices_cast(
    lists: int, data: st.DataObject, trustees: tuple[int, int], version: int
) -> None:
    n, k = trustees
    ceremony = run_ceremony(n=n, k=k, ceremony_id=bytes([n, k]) * 16)
    options = lists + 1
    choices = data.draw(st.lists(st.integers(min_value=0, max_value=options - 1), min_size=0, max_size=8))
    manifest = ceremony.manifest(lists=lists, version=version)
    election = manifest.hash()
    ballots = []
    for voter, choice in enumerate(choices):
        nonce = g.index_bytes(voter) * 8
        b = encrypt_ballot(
            key=ceremony.key, election=election, nonce=nonce, options=options, choice=choice, proof_format=version
        )
        verify_ballot(b, key=ceremony.key, election=election, options=options, nonce=nonce, proof_format=version)
        verify_ballot_reference(
            b, key=ceremony.key, election=election, options=options, nonce=nonce, proof_format=version
        )
        ballots.append(b)
    group = data.draw(st.permutations(range(1, n + 1)))[:k]
    totals = tally(ceremony, election, aggregate(ballots, options), sorted(group), len(ballots))
    assert totals == [choices.count(option) for option in range(options)]
