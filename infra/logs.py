"""Structured logs: one JSON object a line, on standard error, for every process of the suite.

A line holds ``ts`` (UTC, ISO 8601, milliseconds), ``level``, ``logger``, ``process`` (pid), ``message``, the
``request_id`` of the request being served if any, and the structured fields a caller passes as
``extra={"fields": {...}}`` (the request line of :mod:`infra.observability`, the job line of :mod:`infra.worker`).

Nothing personal: the suite's own messages hold types, counts, ids and pseudonymous references only. An exception is
logged as its type and where it was raised, frame by frame, never its text: a database error's text quotes the
parameters of its statement (an identifier, an address), any error's text may quote what a visitor typed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import sys
import traceback
from contextvars import ContextVar
from typing import Any, TextIO

#: The request id of the request this thread serves (set by :mod:`infra.observability`).
REQUEST_ID: ContextVar[str | None] = ContextVar("elections_request_id", default=None)

#: Attribute of a log record holding its structured fields.
FIELDS = "fields"


def stack_of(error: BaseException) -> list[str]:
    """``file.py:12 in function`` for each frame of ``error``'s traceback, innermost last: no text of the error."""
    return [
        f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} in {frame.name}"
        for frame in traceback.extract_tb(error.__traceback__)
    ]


#: Attribute of a log record holding its structured fields already serialised: the members of a JSON object
#: without its braces, the same as :data:`FIELDS` holds (the request line of :mod:`infra.observability`, built from
#: parts kept per route). :class:`JsonFormatter` writes it as is; other formatters read :data:`FIELDS`.
FIELDS_JSON = "fields_json"

#: The keys of a line's own members: fields naming one of them are merged the slow way (the field's value in its place).
_OWN_KEYS = frozenset({"ts", "level", "logger", "process", "message", "request_id", "error", "stack"})
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)
_string = json.encoder.encode_basestring  # a JSON string, without escaping what is not ASCII (as ``_ENCODER``)


def members(fields: dict[str, Any]) -> str:
    """``fields`` as the members of a JSON object, without its braces, as :class:`JsonFormatter` writes them."""
    return _ENCODER.encode(fields)[1:-1]


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line (see the module's docstring).

    Every line is the JSON text of ``{"ts", "level", "logger", "process", "message", "request_id", *fields}`` in that
    order, ``json.dumps(entry, ensure_ascii=False, default=str)``'s bytes. A line of a request is written for every
    request, so the line is put together from parts (the timestamp's second, and the level, logger and process, kept
    once met; the fields' :data:`FIELDS_JSON` when given): the same bytes in a fifth of the time. A record with an
    exception, or whose fields name one of the line's own members, takes the general way.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The last second met and its text (one tuple: threads share the formatter).
        self._second: tuple[int, str] = (-1, "")
        #: ``"level": …, "logger": …, "process": …, "message": `` by (level name, logger name, process).
        self._heads: dict[tuple[str, str, int | None], str] = {}

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, FIELDS, None)
        request_id = REQUEST_ID.get()
        if record.exc_info or not (request_id is None or isinstance(request_id, str)):
            return self._general(record, fields, request_id)
        given = getattr(record, FIELDS_JSON, None)
        if isinstance(given, str) and isinstance(fields, dict):
            members_text = given
        elif isinstance(fields, dict) and fields:
            if not _OWN_KEYS.isdisjoint(fields):
                return self._general(record, fields, request_id)
            members_text = members(fields)
        else:
            members_text = ""
        head = self._heads.get((record.levelname, record.name, record.process))
        if head is None:
            head = self._head(record)
        parts = ['{"ts": "', self._timestamp(record.created), '", ', head, _string(record.getMessage())]
        if request_id:
            parts += (', "request_id": ', _string(request_id))
        if members_text:
            parts += (", ", members_text)
        parts.append("}")
        return "".join(parts)

    def _head(self, record: logging.LogRecord) -> str:
        head = members({"level": record.levelname.lower(), "logger": record.name, "process": record.process})
        head += ', "message": '
        if len(self._heads) < 64:  # a process's loggers and levels: a few
            self._heads[(record.levelname, record.name, record.process)] = head
        return head

    def _timestamp(self, created: float) -> str:
        """``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")``, its second's text kept: the
        same rounding to the microsecond (half to even), then the milliseconds truncated."""
        second = math.floor(created)
        micro = round((created - second) * 1e6)
        if micro >= 1_000_000:
            second, micro = second + 1, micro - 1_000_000
        kept = self._second
        if kept[0] != second:
            text = dt.datetime.fromtimestamp(second, dt.UTC).isoformat(timespec="seconds").removesuffix("+00:00")
            kept = self._second = (second, text)
        return f"{kept[1]}.{micro // 1000:03d}+00:00"

    def _general(self, record: logging.LogRecord, fields: Any, request_id: Any) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        if request_id:
            entry["request_id"] = request_id
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["error"] = type(error).__name__
            entry["stack"] = stack_of(error)
        return json.dumps(entry, ensure_ascii=False, default=str)


def json_handler(stream: TextIO | None = None) -> logging.Handler:
    """A handler writing JSON lines to ``stream`` (standard error)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    return handler


def configure(level: int | str = logging.INFO) -> None:
    """Send the process's logs to standard error as JSON lines (a command that runs long: the workers), unless
    the process already set up its logging (gunicorn's configuration, a test)."""
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(json_handler())
    root.setLevel(level)


#: Gunicorn's ``logconfig_dict`` (:mod:`infra.gunicorn_config`): its own messages and the apps' as JSON lines.
GUNICORN_LOGCONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "infra.logs.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
        # Gunicorn's access log would write raw paths, which carry one-time link tokens: the request line of
        # infra.observability replaces it.
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
    },
}
