"""Running behind reverse proxies: trust their ``X-Forwarded-*`` headers, and only theirs.

With ``count`` proxies in front, the client address is the ``count``-th address from the right of
``X-Forwarded-For`` (what throttling per address uses), and the scheme and host come from the last proxy. Without
proxies (0) the headers are ignored: anyone could send them.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def trust_proxies(app: Flask, count: int) -> None:
    """Trust ``count`` reverse proxies in front of ``app`` (0: none, the headers are ignored)."""
    if count < 0:
        raise ValueError("the number of trusted proxies must be zero or more")
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=1, x_host=1)  # type: ignore[method-assign]
