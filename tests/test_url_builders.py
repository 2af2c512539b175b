"""The suite's memoized URL builders (tests/url_builders.py) build every URL exactly as werkzeug's own do."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import Map, Rule
from werkzeug.routing.converters import IntegerConverter

from tests import url_builders


def _values(rule: Rule) -> dict[str, Any]:
    converters = rule._converters
    return {name: 7 if isinstance(converters[name], IntegerConverter) else "a b/é" for name in rule.arguments}


def _both(rule: Rule, values: dict[str, Any]) -> None:
    assert url_builders._original is not None
    for append_unknown in (False, True):
        werkzeugs = url_builders._original(rule, append_unknown)
        memoized = rule._build_unknown if append_unknown else rule._build
        extra = {"suite": "x y", "n": 3} if append_unknown else {}
        assert memoized(**values, **extra) == werkzeugs(rule, **values, **extra)


def test_the_builders_are_memoized_in_the_suite(app: Flask) -> None:
    rules = list(app.url_map.iter_rules())
    assert len(rules) > 20
    for rule in rules:
        _both(rule, _values(rule))
    # A second app of the same rules reuses the compiled functions.
    again = Flask("again")
    again.add_url_rule("/authorize", "authorize", lambda: "")
    first = Flask("first")
    first.add_url_rule("/authorize", "authorize", lambda: "")
    one = next(r for r in first.url_map.iter_rules() if r.endpoint == "authorize")
    two = next(r for r in again.url_map.iter_rules() if r.endpoint == "authorize")
    assert one._build.__func__ is two._build.__func__


@pytest.mark.parametrize(
    ("path", "defaults", "values"),
    [
        ("/scrutin/<code>/liste/<int:number>", None, {"code": "CSE 2026", "number": 3}),
        ("/page/<int:page>", {"page": 1}, {}),  # a default filling the rule's own variable: werkzeug's own builder
        ("/fixe", {"lang": "fr"}, {"lang": "fr"}),
        ("/<path:rest>", None, {"rest": "a/b c"}),
    ],
)
def test_shapes_of_rules(path: str, defaults: dict[str, Any] | None, values: dict[str, Any]) -> None:
    rule = Rule(path, endpoint="e", defaults=defaults)
    Map([rule])
    _both(rule, values)


def test_a_rule_whose_default_fills_its_variable_is_not_shared() -> None:
    one, two = (
        Rule("/p/<int:page>", endpoint="a", defaults={"page": 1}),
        Rule("/p/<int:page>", endpoint="b", defaults={"page": 2}),
    )
    Map([one, two])
    assert one.build({}, append_unknown=False) == ("", "/p/1")
    assert two.build({}, append_unknown=False) == ("", "/p/2")
