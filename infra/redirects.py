"""The suite's one rule for redirecting to a caller-supplied location (``next``, a return path): no open redirect.

Every application (IdP, réassort plugin, portal, auditors' console) sends a browser on to a location that came from
the request — a ``next`` parameter, a value kept in the session since — only through :func:`safe_local_path`. It
accepts a path of the same origin and nothing else, and it judges the string the way a browser will read it, not
the way it looks: browsers drop tabs and newlines anywhere in a URL, read ``\\`` as ``/``, take ``//host`` as
another site, and servers down the line may decode ``%2f`` once more. A check on the raw string (``startswith("/")
and not startswith("//")``) let ``/\\t/evil.example`` through: the browser removed the tab and went to
``//evil.example``; a newline in the value made Werkzeug refuse the header (a 500).

So a value is accepted only if:

- it is a string of printable ASCII (``!`` to ``~``) no longer than ``max_length``: no control character, no
  white space of any kind, no Unicode look-alike (``／``, ``．``, fullwidth or ideographic forms), no DEL;
- it has no backslash;
- ``urlsplit`` sees neither a scheme nor a network location, and it starts with exactly one ``/``;
- its path, percent-decoded again and again until it no longer changes (at most a few rounds), still starts with
  exactly one ``/``, has no backslash, no control or line-separator character and no ``.`` or ``..`` segment
  (``/%2f%2fevil.example``, ``/%5cevil.example``, ``/%252f/evil.example``, ``/..//evil.example`` are refused).

The query and the fragment are left as they are: they cannot change the origin, and a percent-encoded byte there is
inert in a ``Location`` header. Anything refused is simply dropped (the caller falls back to its default page):
the voter is never shown an error for a bad ``next``.

Locations that a client *registered* (OpenID Connect ``redirect_uri``, ``post_logout_redirect_uri``) follow
another rule — exact comparison with the registration, done by Authlib's ``check_redirect_uri`` and the
end-session checks of the IdP and the development provider — because they legitimately lead to another origin.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

if TYPE_CHECKING:
    from flask import Request

#: Long enough for an authorization request resumed through ``/authorize?tx=…`` or a filtered console page.
MAX_LENGTH = 2048
#: Percent-decoding rounds: a value still changing after that many is refused (nobody encodes a path five times).
_DECODE_ROUNDS = 4
#: What :func:`quote` may leave as is in a path (RFC 3986 ``pchar`` and ``/``), for :func:`request_location`.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def safe_local_path(value: object, *, max_length: int = MAX_LENGTH) -> str | None:
    """``value`` if it is a path of this origin that a browser will read as such, else None (see the module)."""
    if not isinstance(value, str) or not value or len(value) > max_length:
        return None
    if any(not "!" <= char <= "~" for char in value) or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not _one_leading_slash(value):
        return None
    return value if _decoded_path_is_local(parts.path) else None


def request_location(request: Request) -> str | None:
    """The current request's path and query as a ``next`` for later, or None if it could not be one.

    The path is percent-encoded again (Werkzeug decodes it), so a page whose address holds non-ASCII characters
    can still be come back to; the query string is kept as the browser sent it.
    """
    query = request.query_string.decode("latin-1")
    target = quote(request.path, safe=_PATH_SAFE) + (f"?{query}" if query else "")
    return safe_local_path(target)


def _one_leading_slash(path: str) -> bool:
    return path.startswith("/") and not path.startswith("//")


def _decoded_path_is_local(path: str) -> bool:
    decoded = path
    for _ in range(_DECODE_ROUNDS + 1):
        if not _one_leading_slash(decoded) or "\\" in decoded or any(_control(c) for c in decoded):
            return False
        if any(segment in {".", ".."} for segment in decoded.split("/")):
            return False
        once_more = unquote(decoded, errors="replace")
        if once_more == decoded:
            return True
        decoded = once_more
    return False


def _control(char: str) -> bool:
    """Control, format and line-separator characters (tab, CR, LF, NUL, U+2028…): what browsers drop from a URL
    and what header parsers split on. A plain space, once decoded, is a character of the path like any other."""
    return unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
