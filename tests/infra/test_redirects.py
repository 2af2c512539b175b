"""The one rule for caller-supplied destinations (``infra.redirects``): every hostile value refused, every path the
applications really send accepted unchanged, and whatever is accepted read by a browser as a path of the origin."""

from __future__ import annotations

import ada_url
import pytest
from flask import Flask

from infra.redirects import MAX_LENGTH, request_location, safe_local_path
from tests.hostile_locations import HOSTILE_LOCATIONS

ORIGIN = "https://portail.elections.example.fr"

#: Destinations the applications build themselves: they must survive the rule as they are.
LEGITIMATE = (
    "/",
    "/authorize?tx=Zm9vYmFyLWJhei0xMjM0NTY3ODkw",
    "/login/vote-code?next=%2Fauthorize%3Ftx%3Dabc",
    "/je-vote/OPEN",
    "/je-vote/code?next=/je-vote/OPEN",
    "/journal?type=login.succeeded&type=token.issued&debut=2027-03-14T08%3A00",
    "/jetons?sujet=abc&apres=MTIzNDU2",
    "/mon-compte/informations-personnelles",
    "/reclamation#formulaire",
    "/scrutins/%C3%A9lection-2027",
    "/@evil.example",  # a path of this origin that merely looks like a host
)


def test_there_are_at_least_forty_hostile_values() -> None:
    assert len(set(HOSTILE_LOCATIONS)) >= 40


@pytest.mark.parametrize("value", HOSTILE_LOCATIONS)
def test_every_hostile_value_is_refused(value: str) -> None:
    assert safe_local_path(value) is None


@pytest.mark.parametrize("value", LEGITIMATE)
def test_paths_of_the_applications_are_kept_as_they_are(value: str) -> None:
    assert safe_local_path(value) == value
    assert ada_url.URL(value, f"{ORIGIN}/connexion").origin == ORIGIN


@pytest.mark.parametrize("value", [None, 42, b"/journal", ["/journal"], {"next": "/"}])
def test_anything_but_a_string_is_refused(value: object) -> None:
    assert safe_local_path(value) is None


def test_length_is_bounded() -> None:
    assert safe_local_path("/" + "a" * (MAX_LENGTH - 1)) is not None
    assert safe_local_path("/" + "a" * MAX_LENGTH) is None
    assert safe_local_path("/journal", max_length=5) is None


def test_the_current_request_becomes_a_destination_percent_encoded() -> None:
    app = Flask(__name__)
    with app.test_request_context("/scrutins/élection 2027?type=a&type=b"):
        from flask import request

        assert request_location(request) == "/scrutins/%C3%A9lection%202027?type=a&type=b"
    with app.test_request_context("/journal"):
        from flask import request

        assert request_location(request) == "/journal"
    with app.test_request_context(environ_overrides={"PATH_INFO": "/\t/evil.example"}):
        from flask import request

        assert request_location(request) is None
