"""A réassort link is never sent to a mailbox of the ministry given as the "personal" address: every académie,
overseas included, and the ministries' domains get the precise French message and nothing is counted or sent."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from idp.ministry_domains import MINISTRY_DOMAINS
from tests.idp.auth.test_lockout_race import event_counts
from tests.reassort_plugin.helpers import ReassortActions, events

MESSAGE = "Cette adresse est une messagerie académique ou professionnelle"


@pytest.mark.parametrize("domain", ["ac-noumea.nc", "ac-polynesie.pf", "ac-wf.wf", "education.gouv.fr"])
def test_the_reported_domains_are_refused(app: Flask, signed_in: Any, reassort: ReassortActions, domain: str) -> None:
    response = reassort.ask_code(email=f"camille.perso@{domain}")
    assert response.status_code == 400
    assert MESSAGE in response.get_data(as_text=True)


def test_every_domain_of_the_list_is_refused(app: Flask, signed_in: Any, reassort: ReassortActions) -> None:
    before = event_counts(app)
    for domain in sorted(MINISTRY_DOMAINS):
        for address in (f"camille.perso@{domain}", f"camille.perso@etu.{domain.upper()}"):
            response = reassort.ask_code(email=address)
            assert response.status_code == 400 and MESSAGE in response.get_data(as_text=True), address
    counts = event_counts(app) - before
    assert counts["reassort.failed"] == 0 and counts["reassort.link_sent"] == 0, "refused for its format only"
    assert not [e for e in events(app) if e.type == "reassort.link_sent"]
