"""Access rules of the pages: a missing or expired session goes back to sign-in, never to an error page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import redirect, request, url_for
from werkzeug.wrappers import Response

from infra.redirects import request_location
from relying_party.signin.identity import current_voter

P = ParamSpec("P")
R = TypeVar("R")


def sign_in_redirect() -> Response:
    """Back to sign-in; a GET comes back to the same page afterwards."""
    target = request_location(request) if request.method == "GET" else None
    return redirect(url_for("signin.start", next=target))


def login_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        if current_voter() is None:
            return sign_in_redirect()
        return view(*args, **kwargs)

    return wrapped
