"""Subject identifiers: pairwise per sector for third-party clients (stable, different between sectors, not the
voter's public subject), public for first-party ones, configurable per client."""

from __future__ import annotations

from tests.oidc_helpers import make_client, verify

pytest_plugins = ["tests.oidc_fixtures"]


def sub_for(flow, rp, voter):
    flow.auth.login(voter.identifier)
    return verify(flow.client, flow.tokens(rp, voter)["id_token"])["sub"]


def test_pairwise_sub_is_stable_within_a_sector_and_differs_between_sectors(app, flow, voters):
    voter = voters.create()
    first = make_client(app, first_party=False, redirect_uris=["https://a.example.fr/cb"])
    same_sector = make_client(app, first_party=False, redirect_uris=["https://a.example.fr/other"])
    other_sector = make_client(app, first_party=False, redirect_uris=["https://b.example.fr/cb"])
    sub = sub_for(flow, first, voter)
    assert sub != voter.subject and len(sub) == 64
    assert sub_for(flow, first, voter) == sub
    assert sub_for(flow, same_sector, voter) == sub
    assert sub_for(flow, other_sector, voter) != sub


def test_pairwise_subs_of_two_voters_differ(app, flow, voters):
    rp = make_client(app, first_party=False)
    alice, bob = voters.create(), voters.create()
    assert sub_for(flow, rp, alice) != sub_for(flow, rp, bob)


def test_sector_identifier_groups_hosts(app, flow, voters):
    voter = voters.create()
    one = make_client(
        app, first_party=False, redirect_uris=["https://x.example.fr/cb"], sector_identifier="ministere.example.fr"
    )
    two = make_client(
        app, first_party=False, redirect_uris=["https://y.example.fr/cb"], sector_identifier="ministere.example.fr"
    )
    assert sub_for(flow, one, voter) == sub_for(flow, two, voter)


def test_first_party_clients_get_the_public_subject(flow, rp, voters):
    voter = voters.create()
    assert sub_for(flow, rp, voter) == voter.subject


def test_subject_type_is_configurable_per_client(app, flow, voters):
    voter = voters.create()
    public_third_party = make_client(app, first_party=False, subject_type="public")
    pairwise_first_party = make_client(app, first_party=True, subject_type="pairwise")
    assert sub_for(flow, public_third_party, voter) == voter.subject
    assert sub_for(flow, pairwise_first_party, voter) != voter.subject


def test_pairwise_needs_a_single_host_or_a_sector(app):
    import pytest

    from idp.oidc.clients import ClientSettingsError

    with pytest.raises(ClientSettingsError, match="sector identifier"):
        make_client(app, first_party=False, redirect_uris=["https://a.example.fr/cb", "https://b.example.fr/cb"])
    make_client(
        app,
        first_party=False,
        redirect_uris=["https://a.example.fr/cb", "https://b.example.fr/cb"],
        sector_identifier="example.fr",
    )


def test_pairwise_sub_depends_on_the_hmac_key(app_config, app, flow, voters):
    """A copy of the database is not enough to link pairwise subjects to voters."""
    from idp import create_app
    from idp.db import get_db
    from idp.oidc import clients
    from idp.oidc.subjects import subject_for
    from idp.web import keyed_hasher

    rp = make_client(app, first_party=False)
    voter = voters.create()
    with app.app_context(), get_db(app).transaction() as session:
        client = clients.find(session, rp.client_id)
        ours = subject_for(client, voter.subject, keyed_hasher(app))
    other = create_app({**app_config, "HMAC_KEY": "another-hmac-key-for-this-test-0123456789"})
    with other.app_context(), get_db(other).transaction() as session:
        client = clients.find(session, rp.client_id)
        assert subject_for(client, voter.subject, keyed_hasher(other)) != ours
    get_db(other).dispose()
