"""What the step-by-step benchmarks share (``benchmarks.idp_steps``, ``benchmarks.portal_steps``,
``benchmarks.portal_signin``): counting the SQL statements psycopg sends outside SQLAlchemy, measuring a step
(this thread's CPU, its statements and store round trips, cProfile around the chosen step), the per-step table and
the profile's printout.

``benchmarks.code_grant`` keeps its own copy of :func:`count_pipelined_statements`: it is run against other trees,
whose ``benchmarks`` package may not have this module.
"""

from __future__ import annotations

import cProfile
import importlib
import io
import operator
import pstats
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import redis.connection
from werkzeug.test import TestResponse


def count_pipelined_statements(count: Callable[..., None]) -> None:
    """Also count the statements sent through psycopg directly on PostgreSQL, which SQLAlchemy's events do not see:
    the audit append's pipeline (:func:`hashchain.append.send`) and the lean path's reads and writes
    (:mod:`idp.oidc.direct_read`), in the trees that have them."""
    for module, name in (
        ("hashchain.append", "send"),
        ("idp.oidc.direct_read", "execute"),
        ("idp.oidc.direct_read", "send"),
    ):
        try:
            found = importlib.import_module(module)
        except ImportError:
            continue
        original = getattr(found, name, None)
        if original is not None:
            setattr(found, name, _counted(original, count))


def _counted(original: Callable[..., Any], count: Callable[..., None]) -> Callable[..., Any]:
    def counted(*args: Any) -> Any:
        count()
        return original(*args)

    return counted


class StepProbe:
    """Per step: this thread's CPU, the SQL statements and the store's round trips of each request, a row each in
    :attr:`rows` (CPU milliseconds first, then :meth:`_counts`). Subclasses listen to the statements (calling
    :meth:`_statement`) and add counters of their own (:meth:`_reset`, :meth:`_counts`)."""

    #: The status a step expects when its caller names none.
    default_status: int = 302

    def __init__(self, profile: str | None) -> None:
        self.rows: dict[str, list[tuple[float, ...]]] = {}
        self.statements = 0
        self.round_trips = 0
        self.profile_step = profile
        self.profiler = cProfile.Profile(time.thread_time) if profile else None

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    def _reset(self) -> None:
        self.statements = self.round_trips = 0

    def _counts(self) -> tuple[int, ...]:
        return (self.statements, self.round_trips)

    @contextmanager
    def counting_round_trips(self) -> Iterator[None]:
        """Count the Redis round trips (commands or pipelines sent) while inside."""
        original = redis.connection.AbstractConnection.send_packed_command

        def send(connection: Any, *args: Any, **kwargs: Any) -> Any:
            self.round_trips += 1
            return original(connection, *args, **kwargs)

        redis.connection.AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
        try:
            yield
        finally:
            redis.connection.AbstractConnection.send_packed_command = original  # type: ignore[method-assign]

    def step(
        self, name: str, request: Callable[[], TestResponse], status: int | tuple[int, ...] | None = None
    ) -> TestResponse:
        expected = self.default_status if status is None else status
        self._reset()
        profiling = self.profiler is not None and name == self.profile_step
        if profiling:
            assert self.profiler is not None
            self.profiler.enable()
        started = time.thread_time()
        response = operator.call(request)  # valgrind --toggle-collect=_operator_call: the measured steps alone
        cpu = time.thread_time() - started
        if profiling:
            assert self.profiler is not None
            self.profiler.disable()
        if response.status_code not in (expected if isinstance(expected, tuple) else (expected,)):
            raise RuntimeError(f"{name}: HTTP {response.status_code}, expected {expected}")
        self.rows.setdefault(name, []).append((cpu * 1000, *self._counts()))
        return response


def print_table(
    rows: dict[str, list[tuple[float, ...]]],
    columns: Sequence[tuple[str, int, int]],
    *,
    width: int,
    order: Iterable[str] | None = None,
) -> None:
    """One line per step (in ``order``, else as measured; steps without rows left out): its median and p90 CPU
    milliseconds, then each of ``columns`` (title, width, index in the rows) as the median (low) of the step's
    rows."""
    titles = "".join(f" {title:>{size}}" for title, size, _ in columns)
    print(f"  {'step':{width}} {'CPU ms (median)':>16} {'p90':>7}{titles}")
    for name in rows if order is None else order:
        found = rows.get(name)
        if not found:
            continue
        cpu = sorted(row[0] for row in found)
        p90 = cpu[min(len(cpu) - 1, int(len(cpu) * 0.9))]
        cells = "".join(f" {statistics.median_low(row[index] for row in found):{size}}" for _, size, index in columns)
        print(f"  {name:{width}} {statistics.median(cpu):16.2f} {p90:7.2f}{cells}")


def print_profile(profiler: cProfile.Profile, what: str, *, sort: str, top: int) -> None:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(top)
    print(f"\ncProfile of {what} (thread CPU clock; shares, not figures):\n{out.getvalue()}")
