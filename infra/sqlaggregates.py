"""SQL expressions the operators' figures need, written once for SQLite and PostgreSQL.

Counting by minute, by a field of an event's JSON details or by the domain of an address must happen in the
database (a million rows are not fetched to be counted in Python), and each back end spells these differently:

- :class:`time_bucket` ``(column, seconds)``: the instant's Unix time rounded down to a multiple of ``seconds``,
  an integer (instants are stored as naive UTC, :class:`infra.sqltypes.UTCDateTime`);
- :class:`json_text` ``(column, key)``: a top-level field of a JSON text column, as text (None if absent);
- :class:`email_domain` ``(column)``: what follows the ``@`` of an address.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import literal
from sqlalchemy.sql.functions import FunctionElement


class time_bucket(FunctionElement[int]):
    type = Integer()
    inherit_cache = True
    name = "time_bucket"

    def __init__(self, column: Any, seconds: int) -> None:
        if seconds < 1:
            raise ValueError("a time bucket lasts at least one second")
        super().__init__(column, literal(int(seconds), Integer()))


class json_text(FunctionElement[str]):
    type = String()
    inherit_cache = True
    name = "json_text"

    def __init__(self, column: Any, key: str) -> None:
        if not key.isidentifier():
            raise ValueError("a JSON key made of letters, digits and underscores")
        super().__init__(column, literal(key, String()))


class email_domain(FunctionElement[str]):
    type = String()
    inherit_cache = True
    name = "email_domain"


def _arguments(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(argument, **kw) for argument in element.clauses]


@compiles(time_bucket, "postgresql")
def _time_bucket_postgresql(element: time_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    column, seconds = _arguments(element, compiler, **kw)
    return f"(CAST(floor(extract(epoch FROM {column}) / {seconds}) AS BIGINT) * {seconds})"


@compiles(time_bucket)
def _time_bucket_sqlite(element: time_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    column, seconds = _arguments(element, compiler, **kw)
    return f"((CAST(strftime('%s', {column}) AS INTEGER) / {seconds}) * {seconds})"


@compiles(json_text, "postgresql")
def _json_text_postgresql(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _arguments(element, compiler, **kw)
    return f"(CAST({column} AS JSONB) ->> {key})"


@compiles(json_text)
def _json_text_sqlite(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _arguments(element, compiler, **kw)
    return f"json_extract({column}, '$.' || {key})"


@compiles(email_domain, "postgresql")
def _email_domain_postgresql(element: email_domain, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = _arguments(element, compiler, **kw)
    return f"split_part({column}, '@', 2)"


@compiles(email_domain)
def _email_domain_sqlite(element: email_domain, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = _arguments(element, compiler, **kw)
    return f"substr({column}, instr({column}, '@') + 1)"
