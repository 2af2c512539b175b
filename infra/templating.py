"""Jinja's runtime for the suite's templates, without two of its general checks where they find nothing.

**Calls.** Jinja compiles every call in a template (``url_for(…)``, ``csrf_token()``, a macro…) to ``Context.call``,
which looks on the callable, and on its ``__call__``, for a :func:`jinja2.pass_context` (``pass_eval_context``,
``pass_environment``) mark, then removes two internal keyword arguments: about a microsecond per call besides the
call itself, for the twenty to thirty calls of a page (its links, mostly). :class:`Context` answers the same for a
function, method or macro that carries no mark, the templates' usual callables, by calling it at once; anything
else (a marked callable, a callable object) goes through Jinja's own code.

**Imports.** A template's ``{% from "_macros.html" import field %}`` takes the imported template's module kept by
Jinja unless the importing page has globals the imported one lacks, which Jinja finds as the difference between
two sets of names, one of them a ``ChainMap``'s keys, tested one name at a time in Python: about as long as the
rest of the import, twice on the identifier page. :class:`Template` computes the same difference with set
operations (nothing differs in this suite: the module kept is taken), and leaves any other case to Jinja.

``tests/infra/test_templating.py`` holds both to Jinja's own answers.
"""

from __future__ import annotations

from collections import ChainMap
from types import BuiltinFunctionType, FunctionType, MethodType
from typing import Any

from flask import Flask
from jinja2 import Template as JinjaTemplate
from jinja2.runtime import Context as JinjaContext
from jinja2.runtime import Macro

#: The callables whose ``__call__`` never carries Jinja's mark, so that only the callable's own attribute can: a
#: function or a bound method (whose ``__call__`` is a method-wrapper; a bound method reads its function's
#: attributes), a built-in function or method (``dict.update``: no attribute at all), and a macro (its ``__call__``
#: is Jinja's own, unmarked).
PLAIN = (FunctionType, MethodType, BuiltinFunctionType, Macro)


class Context(JinjaContext):
    """Jinja's template context, with :meth:`call` shortened for an unmarked function or bound method."""

    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if type(__obj) not in PLAIN or hasattr(__obj, "jinja_pass_arg"):
            return super().call(__obj, *args, **kwargs)
        if kwargs:
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:
            return __self.environment.undefined(
                "value was undefined because a callable raised a StopIteration exception"
            )


class Template(JinjaTemplate):
    """Jinja's template, which finds faster that an import may take the module Jinja keeps."""

    def _get_default_module(self, ctx: JinjaContext | None = None) -> Any:
        # Jinja's test (ctx.globals_keys - self.globals.keys()) on the ChainMap's own dictionaries, in C: without
        # a global of the page's that the imported template lacks, the module kept (Jinja's answer without ctx).
        if (
            ctx is not None
            and isinstance(self.globals, ChainMap)
            and not ctx.globals_keys.difference(*self.globals.maps)
        ):
            ctx = None
        return super()._get_default_module(ctx)


def install(app: Flask) -> None:
    """Render ``app``'s templates with :class:`Context` and load them as :class:`Template` (their compiled code is
    unchanged); before any template is loaded."""
    app.jinja_env.context_class = Context
    app.jinja_env.template_class = Template
