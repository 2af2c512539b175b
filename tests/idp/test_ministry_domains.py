"""The one list of the ministry's mail domains (idp.ministry_domains): every académie, overseas included, the
ministries', their sub-domains; and nothing else (the common personal providers stay personal)."""

from __future__ import annotations

import pytest

from idp.ministry_domains import ACADEMIES, MINISTRIES, MINISTRY_DOMAINS, is_ministry_domain

#: Named in the issue: these were accepted as "personal" addresses.
REPORTED = ["ac-noumea.nc", "ac-polynesie.pf", "ac-wf.wf", "education.gouv.fr"]
OVERSEAS = ["ac-mayotte.fr", "ac-guyane.fr", "ac-martinique.fr", "ac-guadeloupe.fr", "ac-reunion.fr", "ac-spm.fr"]
PERSONAL = [
    "laposte.net",
    "orange.fr",
    "free.fr",
    "gmail.com",
    "yahoo.fr",
    "outlook.fr",
    "proton.me",
    "ac-dijon.fr.example.org",  # a look-alike on someone else's domain
    "mac-dijon.fr",
    "education.gouv.fr.evil.example",
    "noteducation.gouv.fr",
]


def test_every_academy_of_the_mainland_and_overseas_is_listed() -> None:
    assert len(ACADEMIES) >= 30
    assert {*REPORTED[:3], *OVERSEAS} <= ACADEMIES
    assert {"education.gouv.fr", "enseignementsup-recherche.gouv.fr", "sports.gouv.fr"} <= MINISTRIES


@pytest.mark.parametrize("domain", sorted(MINISTRY_DOMAINS))
def test_every_listed_domain_and_its_subdomains_are_the_ministrys(domain: str) -> None:
    assert is_ministry_domain(domain)
    assert is_ministry_domain(f"etu.{domain}")
    assert is_ministry_domain(domain.upper() + ".")


def test_an_academy_created_after_the_list_is_still_recognised() -> None:
    assert is_ministry_domain("ac-nouvelle-academie.fr")


@pytest.mark.parametrize("domain", PERSONAL)
def test_personal_providers_and_look_alikes_are_not(domain: str) -> None:
    assert not is_ministry_domain(domain)
