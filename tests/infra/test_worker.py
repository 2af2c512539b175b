"""The loop of every worker (infra.worker): a failed round is logged without its text and retried after a bounded
backoff, whatever the error; an outage's write is retried within its deadline, nothing else is."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from infra.db import make_engine
from infra.worker import backoff, retry_while_unavailable, run_until_stopped
from tests.delivery_servers import free_port, wait_for


def unreachable_database() -> None:
    """A real outage: a PostgreSQL address where nothing listens."""
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/absent")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def test_backoff_doubles_from_half_a_second_up_to_five() -> None:
    assert [backoff(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_no_error_ends_the_loop_and_the_log_says_what_and_where_never_the_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="infra.worker")
    rounds: list[float] = []

    def step(stop: threading.Event) -> None:
        rounds.append(time.monotonic())
        if len(rounds) == 1:
            unreachable_database()
        if len(rounds) == 2:
            raise ValueError("message pour 06 39 98 12 34")  # a bug whose text quotes a recipient

    stop = threading.Event()
    thread = threading.Thread(target=run_until_stopped, args=(step,), kwargs={"name": "w", "every": 0.05, "stop": stop})
    thread.start()
    try:
        assert wait_for(lambda: len(rounds) >= 4, 10), "the loop went on after both errors"
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert rounds[1] - rounds[0] >= 0.45 and rounds[2] - rounds[1] >= 0.95, "backoff 0.5 s, then 1 s"
    messages = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert ("WARNING", "w: round failed, dependency unavailable (OperationalError); next try in 0.5 s") in messages
    [bug] = [message for level, message in messages if level == "ERROR"]
    assert bug.startswith("w: round failed (ValueError at test_worker.py:") and "in step" in bug
    assert any(message.startswith("w: working again after 2 failed round(s)") for _, message in messages)
    assert not any("06 39" in message for _, message in messages)


def test_an_outage_is_retried_until_the_deadline_and_nothing_else_is() -> None:
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        unreachable_database()

    started = time.monotonic()
    with pytest.raises(OperationalError):
        retry_while_unavailable(failing, until=time.monotonic() + 2)
    assert len(calls) == 3 and time.monotonic() - started < 2, "0.5 s, 1 s, then the next wait passes the deadline"

    def bug() -> None:
        calls.append(1)
        raise KeyError("x")

    calls.clear()
    with pytest.raises(KeyError):
        retry_while_unavailable(bug, until=time.monotonic() + 10)
    assert len(calls) == 1
