"""Compiled templates kept for the whole test process, shared by every app the tests create.

Each Flask app has a Jinja environment of its own, which compiles a template the first time it renders it (lexing,
parsing, optimising, generating Python source, ``compile``): a few milliseconds a template, paid again by every
test, since every test creates its apps. Jinja's bytecode cache is the library's own way to keep compiled
templates; :class:`ProcessBytecodeCache` keeps them in memory, keyed as Jinja keys them (the template's name and
file, the source's checksum) and by what in the environment changes the generated code, so an environment set up
differently never gets another's code. :func:`install` gives it to every Flask app of the process.
"""

from __future__ import annotations

from types import CodeType
from typing import Any

import flask
from jinja2 import BytecodeCache, Environment
from jinja2.bccache import Bucket


def _settings(environment: Environment) -> tuple[Any, ...]:
    """What of ``environment`` the compiled code of a template depends on."""
    autoescape = getattr(environment.autoescape, "__func__", environment.autoescape)  # a method of the app
    return (
        environment.block_start_string,
        environment.block_end_string,
        environment.variable_start_string,
        environment.variable_end_string,
        environment.comment_start_string,
        environment.comment_end_string,
        environment.line_statement_prefix,
        environment.line_comment_prefix,
        environment.trim_blocks,
        environment.lstrip_blocks,
        environment.newline_sequence,
        environment.keep_trailing_newline,
        environment.optimized,
        environment.is_async,
        environment.finalize,
        environment.undefined,
        autoescape,
        tuple(sorted(environment.extensions)),
    )


class ProcessBytecodeCache(BytecodeCache):
    """Compiled templates in memory (code objects, no marshalling), for as long as the process lives."""

    def __init__(self) -> None:
        self.codes: dict[tuple[Any, ...], CodeType] = {}

    @staticmethod
    def _key(bucket: Bucket) -> tuple[Any, ...]:
        return (bucket.key, bucket.checksum, _settings(bucket.environment))

    def load_bytecode(self, bucket: Bucket) -> None:
        bucket.code = self.codes.get(self._key(bucket))

    def dump_bytecode(self, bucket: Bucket) -> None:
        if bucket.code is not None:
            self.codes[self._key(bucket)] = bucket.code


CACHE = ProcessBytecodeCache()


def install() -> None:
    """Every Flask app created afterwards in this process compiles each template once for all of them."""
    flask.Flask.jinja_options = {**flask.Flask.jinja_options, "bytecode_cache": CACHE}
