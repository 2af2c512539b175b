"""Werkzeug's URL builders, compiled once per shape of rule for the whole test process.

Werkzeug compiles two builder functions for every URL rule it binds (an ``ast`` tree put together, walked and given
to ``compile``): about 1.3 ms a rule, 40 ms of the 110 ms an IdP app takes to create, and the suite creates
thousands of apps of the same rules (one or more per test). A builder depends only on the rule's text, its parsed
trace, the names of its defaults and whether unknown arguments are appended: the function compiled for one rule is
the same code for every rule of that shape, bound to each rule in turn. :func:`install` memoizes it on that key.

A rule whose default fills one of its own variables (werkzeug turns that default into a constant through the
rule's converter) is compiled each time, as werkzeug does: its builder depends on the converter's answer.

This touches a private method of werkzeug (``Rule._compile_builder``, werkzeug 3.1): :func:`install` fails loudly
if it is gone, and ``tests/test_url_builders.py`` holds every URL of the apps against werkzeug's own builders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing.rules import Rule

Builder = Callable[..., tuple[str, str]]
_compiled: dict[tuple[Any, ...], Builder] = {}
_original: Callable[[Rule, bool], Builder] | None = None


def _key(rule: Rule, append_unknown: bool) -> tuple[Any, ...] | None:
    defaults = rule.defaults or {}
    trace = tuple(rule._trace)
    if any(dynamic and name in defaults for dynamic, name in trace):
        return None
    return (rule.rule, trace, tuple(str(name) for name in defaults), append_unknown)


def _memoized(rule: Rule, append_unknown: bool = True) -> Builder:
    assert _original is not None
    key = _key(rule, append_unknown)
    if key is None:
        return _original(rule, append_unknown)
    builder = _compiled.get(key)
    if builder is None:
        builder = _compiled[key] = _original(rule, append_unknown)
    return builder


def install() -> None:
    """Memoize werkzeug's builders in this process (idempotent)."""
    global _original
    if _original is not None:
        return
    original = getattr(Rule, "_compile_builder", None)
    if original is None:
        raise RuntimeError("werkzeug.routing.Rule._compile_builder is gone: remove tests/url_builders.py")
    _original = original
    Rule._compile_builder = _memoized  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    """Werkzeug's own compilation again (for the test that compares both)."""
    global _original
    if _original is not None:
        Rule._compile_builder = _original  # type: ignore[method-assign]
        _original = None
