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


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id:
            entry["request_id"] = request_id
        fields = getattr(record, FIELDS, None)
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
