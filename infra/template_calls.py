"""The templates' calls (``url_for(…)``, ``csrf_token()``, a macro…) without Jinja's checks where they find nothing.

Jinja compiles every call in a template to ``Context.call``, which looks on the callable, and on its ``__call__``,
for a :func:`jinja2.pass_context` (``pass_eval_context``, ``pass_environment``) mark, then removes two internal
keyword arguments: about a microsecond per call besides the call itself, for the twenty to thirty calls of a page
(its links, mostly). :class:`Context` answers the same for a function, method or macro that carries no mark, the
templates' usual callables, by calling it at once; anything else (a marked callable, a callable object) goes
through Jinja's own code. ``tests/infra/test_template_calls.py`` holds every kind of callable to
Jinja's answer.
"""

from __future__ import annotations

from types import BuiltinFunctionType, FunctionType, MethodType
from typing import Any

from flask import Flask
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


def install(app: Flask) -> None:
    """Render ``app``'s templates with :class:`Context` (their compiled code is unchanged)."""
    app.jinja_env.context_class = Context
