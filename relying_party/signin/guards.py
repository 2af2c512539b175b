"""Access rules of the pages: a missing or expired session goes back to sign-in, never to an error page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import redirect, request, url_for
from werkzeug.wrappers import Response

from relying_party.signin.identity import current_voter

P = ParamSpec("P")
R = TypeVar("R")


def safe_next(value: str | None) -> str | None:
    """A local path to come back to after sign-in, or None (never another site: open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 500:
        return None
    return value


def current_path() -> str:
    query = request.query_string.decode("utf-8", "replace")
    return request.path + (f"?{query}" if query else "")


def sign_in_redirect() -> Response:
    """Back to sign-in; a GET comes back to the same page afterwards."""
    target = current_path() if request.method == "GET" else None
    return redirect(url_for("signin.start", next=target))


def login_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        if current_voter() is None:
            return sign_in_redirect()
        return view(*args, **kwargs)

    return wrapped
