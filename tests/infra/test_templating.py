"""The templates' calls through infra.templating' Context: what Jinja's own Context answers, for every kind of
callable a template may call, and the context of every app made by infra.application.new_app."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import Environment, pass_context, pass_environment, pass_eval_context
from jinja2 import Template as JinjaTemplate
from jinja2.runtime import Context as JinjaContext

from infra import templating
from infra.application import new_app


def plain(*args: Any, **kwargs: Any) -> str:
    return f"plain{args}{sorted(kwargs.items())}"


@pass_context
def with_context(context: Any, name: str) -> str:
    return f"context:{context.get(name)}"


@pass_eval_context
def with_eval_context(eval_ctx: Any, value: str) -> str:
    return f"eval:{eval_ctx.autoescape}:{value}"


@pass_environment
def with_environment(environment: Any, value: str) -> str:
    return f"env:{type(environment).__name__}:{value}"


def stops() -> str:
    raise StopIteration


class Holder:
    def __init__(self) -> None:
        self.values = {"a": 1}

    def method(self, value: str) -> str:
        return f"method:{value}"

    @pass_context
    def marked(self, context: Any, name: str) -> str:
        return f"marked:{context.get(name)}"


class CallableWithContext:
    @pass_context
    def __call__(self, context: Any, name: str) -> str:
        return f"callable-context:{context.get(name)}"


class CallableObject:
    def __call__(self, value: str) -> str:
        return f"callable:{value}"


TEMPLATE = """{% macro m(x, y=2) %}macro:{{ x }}{{ y }}{{ caller() if caller }}{% endmacro -%}
{{ plain(1, b=2) }}|{{ with_context('who') }}|{{ with_eval_context('<v>') }}|{{ with_environment('e') }}
|{{ stops() }}|{{ holder.method('x') }}|{{ holder.marked('who') }}|{{ holder.values.get('a') }}
|{{ callable_context('who') }}|{{ callable_object('c') }}|{{ m(1) }}|{% call m(3) %}inner{% endcall %}
{% for i in [1, 2] %}{% set who = 'loop' ~ i %}|{{ with_context('who') }}{{ plain(i) }}{{ m(i, y=i) }}{% endfor %}
{% set who = 'set' %}|{{ with_context('who') }}|{{ '%s-%s'.format(1, 2) }}|{{ [3, 1, 2]|sort|join(',') }}"""


def rendered(context_class: type[JinjaContext]) -> str:
    environment = Environment(autoescape=True)
    environment.context_class = context_class
    return environment.from_string(TEMPLATE).render(
        who="guest",
        plain=plain,
        with_context=with_context,
        with_eval_context=with_eval_context,
        with_environment=with_environment,
        stops=stops,
        holder=Holder(),
        callable_context=CallableWithContext(),
        callable_object=CallableObject(),
    )


def test_every_kind_of_call_answers_as_with_jinjas_context() -> None:
    ours = rendered(templating.Context)
    assert ours == rendered(JinjaContext)
    for expected in (
        "context:guest",
        "eval:True:&lt;v&gt;",
        "env:Environment:e",
        "marked:guest",
        "callable-context:guest",
        "macro:32inner",
        "context:loop1",
        "context:set",
    ):
        assert expected in ours


def test_the_short_way_is_taken_only_without_a_mark(monkeypatch: pytest.MonkeyPatch) -> None:
    through_jinja: list[Any] = []
    original = JinjaContext.call

    def counted(self: JinjaContext, obj: Any, *args: Any, **kwargs: Any) -> Any:
        through_jinja.append(obj)
        return original(self, obj, *args, **kwargs)

    monkeypatch.setattr(JinjaContext, "call", counted)
    rendered(templating.Context)
    names = {getattr(obj, "__name__", type(obj).__name__) for obj in through_jinja}
    assert names == {
        "with_context",
        "with_eval_context",
        "with_environment",
        "marked",
        "CallableWithContext",
        "CallableObject",
    }


def test_every_app_renders_with_it() -> None:
    app = new_app(
        __name__,
        {"SECRET_KEY": "test-secret-0123456789", "SESSION_COOKIE_NAME": "s", "TESTING": True},
        secure_cookies=False,
        max_content_length=1024,
    )
    assert app.jinja_env.context_class is templating.Context
    assert app.jinja_env.template_class is templating.Template
    with app.test_request_context("/"):
        assert app.jinja_env.from_string("{{ url_for('static', filename='a.css') }}").render() == "/static/a.css"


MACROS = "{% macro greet(name) %}{{ greeting }} {{ name }}{{ extra if extra is defined }}{% endmacro %}"
PAGE = '{% from "macros.html" import greet %}{{ greet(who) }}|{% import "macros.html" as m %}{{ m.greet("b") }}'


def imports(template_class: type[Any], monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], int]:
    """The page rendered three ways (plain, with the page's own globals, with a global the environment gains), and
    how many modules of the imported template were made."""
    from jinja2 import DictLoader

    environment = Environment(loader=DictLoader({"macros.html": MACROS, "page.html": PAGE}), autoescape=True)
    environment.template_class = template_class
    environment.globals["greeting"] = "Bonjour"
    made: list[Any] = []
    original = template_class.make_module

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        made.append(self.name)
        return original(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(template_class, "make_module", counted)
        page = environment.get_template("page.html")
        texts = [page.render(who="a"), page.render(who="<c>")]
        texts.append(environment.get_template("page.html", globals={"extra": "!"}).render(who="d"))
    return texts, len(made)


def test_imports_take_the_module_jinja_keeps_and_answer_as_jinja(monkeypatch: pytest.MonkeyPatch) -> None:
    ours, made = imports(templating.Template, monkeypatch)
    theirs, made_by_jinja = imports(JinjaTemplate, monkeypatch)
    assert ours == theirs == ["Bonjour a|Bonjour b", "Bonjour &lt;c&gt;|Bonjour b", "Bonjour d!|Bonjour b!"]
    assert made == made_by_jinja == 3, "one kept module, then one for each import of the page with its own global"
