"""Subject identifiers: the voter's public ``subject`` for first-party clients, pairwise for third-party ones.

A pairwise ``sub`` is HMAC-SHA256, keyed with ``IDP_HMAC_KEY`` (kept outside the database), over the sector and
the voter's public subject: stable for one sector, unrelated between sectors, and not computable from a copy of
the database. The sector is the host of the client's redirect URIs, or the host named by its
``sector_identifier_uri`` (OIDC Core 8.1), so clients of one organisation can share subjects on purpose.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from idp.oidc.models import OidcClient
from idp.security.keyed import KeyedHasher


def sector_of(client: OidcClient) -> str:
    if client.sector_identifier:
        return client.sector_identifier
    hosts = sorted({urlsplit(uri).hostname or uri for uri in client.redirect_uris})
    # Creation refuses pairwise clients whose redirect URIs span several hosts without a sector identifier.
    return hosts[0] if hosts else client.client_id


def subject_for(client: OidcClient, voter_subject: str, keyed: KeyedHasher) -> str:
    """The ``sub`` ``client`` receives for a voter; ``keyed``: the application's keyed hasher (``IDP_HMAC_KEY``)."""
    if client.subject_type == "public":
        return voter_subject
    return keyed.hexdigest("oidc:pairwise-sub", f"{sector_of(client)}\x00{voter_subject}")
