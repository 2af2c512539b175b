"""The links of an app's pages, built once per process instead of at every render.

A page's template builds a dozen links or more (the navigation, the stylesheets, the forms' actions) with
``url_for``, each through werkzeug's URL map: about 4 to 7 µs each, 10 to 15 % of a signed-in page's CPU
(``python -m benchmarks.request_overhead``). Within a request, a relative link depends only on the endpoint, its
values and the request's script root (the path the app is mounted under), so :func:`url_for` keeps what it built
under those, for the templates (the ``url_for`` of Jinja) and the helpers that build asset links (``dsfr_url``).

Not kept, built every time as by Flask: outside a request, for a relative endpoint (``.name``, which depends on
the request's blueprint), with any of Flask's options (``_external``, ``_anchor``, ``_method``, ``_scheme``), with a
value that is not a plain string or integer, and in an app with URL defaults or host matching (where a link may
depend on more than those). The memory is bounded (:data:`MAX_LINKS` per app): a link carrying what a visitor typed
(a ``next`` path) fills it at most, after which new links are built every time.
"""

from __future__ import annotations

from typing import Any, cast

from flask import Flask, current_app
from flask.globals import _cv_request  # the request context's variable, read without a proxy

EXTENSION_KEY = "infra.links"
#: Links kept per app at most.
MAX_LINKS = 4096


class Links:
    """The links of one app, by script root, endpoint and values."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.build = app.url_for
        self.kept: dict[tuple[Any, ...], str] = {}
        #: Decided at the first link, once the app has every blueprint and URL default.
        self.enabled: bool | None = None

    def url_for(self, endpoint: str, /, **values: Any) -> str:
        # The request from its context variable (what ``has_request_context`` reads), not through the ``request``
        # proxy, and its ``root_path`` (what ``script_root`` returns): a link of every template costs less.
        context = _cv_request.get(None)
        if context is None or endpoint[:1] == ".":
            return self.build(endpoint, **values)
        if not self.enabled:
            if self.enabled is None:
                app = self.app
                self.enabled = not (
                    app.url_map.host_matching or app.subdomain_matching or any(app.url_default_functions.values())
                )
            if not self.enabled:
                return self.build(endpoint, **values)
        key: tuple[Any, ...] = (context.request.root_path, endpoint)
        for name, value in values.items():
            if name[:1] == "_" or type(value) not in (str, int):
                return self.build(endpoint, **values)
            key += (name, value)
        found = self.kept.get(key)
        if found is None:
            found = self.build(endpoint, **values)
            if len(self.kept) < MAX_LINKS:
                self.kept[key] = found
        return found


def install(app: Flask) -> None:
    """Build ``app``'s template links through :class:`Links` (Jinja's ``url_for``)."""
    links = Links(app)
    app.extensions[EXTENSION_KEY] = links
    app.jinja_env.globals["url_for"] = links.url_for


def url_for(endpoint: str, /, **values: Any) -> str:
    """Flask's ``url_for`` for the current app, kept by its :class:`Links` when it has them."""
    links = cast("Links | None", current_app.extensions.get(EXTENSION_KEY))
    if links is None:
        return current_app.url_for(endpoint, **values)
    return links.url_for(endpoint, **values)
