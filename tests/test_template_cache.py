"""The suite's process-wide cache of compiled templates (tests/template_cache.py): an app created after another
compiles none of the templates the first one compiled, gets the code Jinja would compile, and an environment set
up differently never gets another's code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jinja2
import pytest
from flask import Flask

from tests.template_cache import CACHE, ProcessBytecodeCache


def _compiles(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    names: list[str | None] = []
    original = jinja2.Environment.compile

    def compile_(self: jinja2.Environment, source: Any, name: str | None = None, *args: Any, **kw: Any) -> Any:
        names.append(name)
        return original(self, source, name, *args, **kw)

    monkeypatch.setattr(jinja2.Environment, "compile", compile_)
    return names


def test_a_second_app_compiles_none_of_the_templates_of_the_first(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = make_app(), make_app()
    assert first.jinja_env.bytecode_cache is CACHE and second.jinja_env.bytecode_cache is CACHE
    page = first.test_client().get("/login")
    assert page.status_code == 200
    compiled = _compiles(monkeypatch)
    again = second.test_client().get("/login")
    assert again.status_code == 200 and compiled == []
    # What the second app used is the code Jinja compiles from the template's source.
    loader = second.jinja_loader
    assert loader is not None
    source, filename, _ = loader.get_source(second.jinja_env, "idp/login_identifier.html")
    fresh = jinja2.Environment.compile(second.jinja_env, source, "idp/login_identifier.html", filename)
    assert fresh in CACHE.codes.values()


def test_environments_set_up_differently_keep_their_own_code() -> None:
    cache = ProcessBytecodeCache()
    templates = {"t.txt": "{% if x %}\n  a{% endif %}"}

    def render(**settings: Any) -> str:
        environment = jinja2.Environment(loader=jinja2.DictLoader(templates), bytecode_cache=cache, **settings)
        return environment.get_template("t.txt").render(x=True)

    assert render(trim_blocks=True) == "  a"
    assert render() == "\n  a"
    assert render(trim_blocks=True) == "  a"
    assert len(cache.codes) == 2


def test_a_changed_source_is_compiled_again() -> None:
    cache = ProcessBytecodeCache()
    templates = {"t.txt": "un"}
    environment = jinja2.Environment(loader=jinja2.DictLoader(templates), bytecode_cache=cache, cache_size=0)
    assert environment.get_template("t.txt").render() == "un"
    templates["t.txt"] = "deux"
    assert environment.get_template("t.txt").render() == "deux"
