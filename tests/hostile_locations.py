"""Hostile values for ``next`` and return locations, and the check that a response does not lead off the origin.

The values are what the application receives once the query string is decoded (the test client encodes them).
Each one is a known way to turn "a path of this site" into another site in some browser or server: white space and
controls that browsers drop (``/\\t/evil.example`` becomes ``//evil.example``), backslashes read as slashes,
scheme-relative and scheme forms, percent-encoded and double-encoded slashes, dot segments, Unicode look-alikes,
header injection. Some are harmless in a browser but must still never reach a 500 (a newline made Werkzeug refuse
the ``Location`` header).

:func:`assert_stays_on_origin` resolves the ``Location`` header with a WHATWG URL parser (``ada_url``, the
parser of Node.js), i.e. exactly as a browser would, instead of guessing with ``urllib``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import ada_url


class TestResponse(Protocol):
    """A response of Flask's test client or of ``requests``: both have these two."""

    status_code: int
    headers: Any


EVIL = "evil.example"

HOSTILE_LOCATIONS: tuple[str, ...] = (
    # scheme-relative, with every separator browsers accept
    "//evil.example",
    "///evil.example",
    "////evil.example/",
    "//evil.example/%2f..",
    "//localhost@evil.example",
    "//localhost:80@evil.example/",
    # white space and controls that browsers remove or that break the header
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/ /evil.example",
    "/\x00/evil.example",
    "/\x0b/evil.example",
    "/\x0c/evil.example",
    "/\x1f/evil.example",
    "/\x7f/evil.example",
    "/\r\nSet-Cookie: session=volee",
    "/\r\nLocation: https://evil.example/",
    # backslashes (read as slashes for http and https)
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "\\/evil.example",
    "/\\\t/evil.example",
    # percent-encoded forms, decoded again by a browser, a proxy or the application
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%0d%0aLocation:%20https://evil.example/",
    "%2f%2fevil.example",
    "/%2f%2fevil.example",
    "/%2F/evil.example",
    "/%5cevil.example",
    "/%5c%5cevil.example",
    "/%252f%252fevil.example",
    "/%25252f%25252fevil.example",
    "/%2e%2e//evil.example",
    # dot segments
    "/..//evil.example",
    "/.//evil.example",
    "/../\\evil.example",
    # schemes
    "https://evil.example",
    "http://evil.example/",
    "HTTPS://evil.example",
    "https:evil.example",
    "https:/evil.example",
    "https:\\\\evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "%6a%61%76%61%73%63%72%69%70%74:alert(1)",
    # Unicode look-alikes and invisible characters
    "/\uff0f/evil.example",
    "\uff0f\uff0fevil.example",
    "/\u2215/evil.example",
    "/\u2044/evil.example",
    "//evil\u3002example",
    "/\u00a0/evil.example",
    "/\u2028/evil.example",
    "/\u200b/evil.example",
    "/\ufeff/evil.example",
    "/\u202e/evil.example",
    # not a path at all, empty, huge
    "evil.example",
    "@evil.example",
    "",
    "/" + "a" * 5000,
    "//" + "a" * 5000 + ".evil.example",
)


def landing_url(response: TestResponse, request_url: str) -> ada_url.URL | None:
    """Where a browser goes next from ``response`` (its ``Location`` read by a WHATWG parser), or None."""
    if not 300 <= response.status_code < 400:
        return None
    location = response.headers.get("Location")
    assert location is not None, "a redirect without Location"
    try:
        return ada_url.URL(location, request_url)
    except ValueError:
        return None  # a browser would not follow it either


def assert_stays_on_origin(
    response: TestResponse, request_url: str, *, allowed_origins: Iterable[str] = (), value: str = ""
) -> None:
    """No 5xx, and a redirect only to the request's own origin (or to one of ``allowed_origins``)."""
    assert response.status_code < 500, f"{response.status_code} for {value!r}"
    target = landing_url(response, request_url)
    if target is None:
        return
    own = ada_url.URL(request_url).origin
    assert target.origin in {own, *allowed_origins}, f"{value!r} led to {target.href}"
    assert EVIL not in target.host, f"{value!r} led to {target.href}"
