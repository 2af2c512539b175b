"""Helpers of the console's tests: an auditor's account and a browser for the live servers."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from tests.idp.audit.helpers import cli

__all__ = ["AUDITOR", "AUDITOR_PASSWORD", "Browser", "cli", "text_of"]

AUDITOR = "camille.controle@audit.example.fr"
AUDITOR_PASSWORD = "une phrase de passe d'auditeur 2027"


_FORM_RE = re.compile(r"<form([^>]*)>(.*?)</form>", re.S)
_ATTR_RE = re.compile(r'([a-z-]+)="([^"]*)"')
_INPUT_RE = re.compile(r"<input([^>]*)>")


class Browser:
    """A browser as far as these pages need one: cookies, redirects, and forms with their hidden fields."""

    def __init__(self) -> None:
        self.http = requests.Session()

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.http.get(url, timeout=30, **kwargs)

    def submit(
        self, page: requests.Response, action_prefix: str | None, fields: dict[str, str], **kwargs: Any
    ) -> requests.Response:
        """Post the form of ``page`` whose action path starts with ``action_prefix`` (None: the form without an
        action, which posts to the page itself), hidden fields included."""
        for match in _FORM_RE.finditer(page.text):
            attrs = dict(_ATTR_RE.findall(match.group(1)))
            if attrs.get("method", "get").lower() != "post":
                continue
            action = html.unescape(attrs["action"]) if "action" in attrs else None
            if action_prefix is None and action is not None:
                continue
            if action_prefix is not None and (action is None or not urlsplit(action).path.startswith(action_prefix)):
                continue
            data: dict[str, str] = {}
            for tag in _INPUT_RE.findall(match.group(2)):
                input_attrs = dict(_ATTR_RE.findall(tag))
                if input_attrs.get("type") == "hidden" and "name" in input_attrs:
                    data[input_attrs["name"]] = html.unescape(input_attrs.get("value", ""))
            data.update(fields)
            return self.http.post(urljoin(page.url, action or page.url), data=data, timeout=30, **kwargs)
        raise AssertionError(f"no form posting to {action_prefix} on {page.url}:\n{page.text[:2000]}")


def text_of(response: requests.Response) -> str:
    return html.unescape(response.text)
