"""Every request observed: counted by route and status, timed, logged as one JSON line, with a request id."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask, abort

from infra import metrics, observability
from infra.application import new_app
from infra.logs import FIELDS, REQUEST_ID, JsonFormatter
from tests.metrics_helpers import free_port, scraped, value

APP = "observed"


def make(trusted_proxies: int = 0) -> Flask:
    app = new_app(
        __name__,
        {"SECRET_KEY": "test-secret-0123456789", "SESSION_COOKIE_NAME": "s", "TRUSTED_PROXIES": trusted_proxies},
        secure_cookies=False,
        max_content_length=1024,
        name=APP,
    )

    @app.get("/link/<token>")
    def link(token: str) -> str:
        observability.note(client_id="portail-elections", subject="pseudo-123")
        return "ok"

    @app.get("/boom")
    def boom() -> str:
        abort(500)

    return app


@pytest.fixture
def lines() -> Iterator[list[str]]:
    captured: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(self.format(record))

    handler = Capture()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("elections.request")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield captured
    logger.removeHandler(handler)
    logger.setLevel(previous)


def test_a_request_is_counted_by_its_url_rule_never_its_path(lines: list[str]) -> None:
    client = make().test_client()
    labels = {"app": APP, "route": "/link/<token>", "method": "GET"}
    before = value("elections_http_requests_total", **labels, status="200")
    timed = value("elections_http_request_duration_seconds_count", **labels)
    assert client.get("/link/secret-one-time-token").status_code == 200
    assert client.get("/link/another-one-time-token").status_code == 200
    assert value("elections_http_requests_total", **labels, status="200") == before + 2
    assert value("elections_http_request_duration_seconds_count", **labels) == timed + 2
    exposition = metrics.scrape_registry()
    from prometheus_client import generate_latest

    text = generate_latest(exposition).decode()
    assert "secret-one-time-token" not in text
    assert "secret-one-time-token" not in "".join(lines)


def test_first_answers_are_tried_in_order_before_the_application(lines: list[str]) -> None:
    """``answer_first`` adds an answer after those already there; what none answers goes to the application."""
    app = make()
    asked: list[str] = []

    def answerer(name: str, path: str) -> observability.FirstAnswerer:
        def answer(environ: dict[str, object]) -> observability.FirstAnswer | None:
            asked.append(name)
            if environ.get("PATH_INFO") != path:
                return None
            return f"/{name}", "200 OK", [("Content-Type", "text/plain")], [name.encode()]

        return answer

    assert observability.answer_first(app, answerer("one", "/one"))
    assert observability.answer_first(app, answerer("two", "/two"))
    client = app.test_client()
    assert client.get("/one").data == b"one" and asked == ["one"]
    assert client.get("/two").data == b"two" and asked == ["one", "one", "two"]
    assert client.get("/link/abc").data == b"ok", "the application answers what no first answer does"
    assert [json.loads(line)["route"] for line in lines] == ["/one", "/two", "/link/<token>"]
    assert not observability.answer_first(Flask(__name__), answerer("three", "/three")), "no observer, no answer"


def test_statuses_and_unmatched_paths() -> None:
    client = make().test_client()

    def count(route: str, method: str, status: str) -> float:
        return value("elections_http_requests_total", app=APP, route=route, method=method, status=status)

    missing, failed, odd = (
        count("<unmatched>", "GET", "404"),
        count("/boom", "GET", "500"),
        count("<unmatched>", "other", "405"),
    )
    assert client.get("/nothing/here/claire.jullien@ac-dijon.fr").status_code == 404
    assert client.get("/boom").status_code == 500
    assert client.open("/link/x", method="PROPFIND").status_code == 405
    assert count("<unmatched>", "GET", "404") == missing + 1
    assert count("/boom", "GET", "500") == failed + 1
    assert count("<unmatched>", "other", "405") == odd + 1


def test_one_json_line_per_request_with_its_request_id(lines: list[str]) -> None:
    client = make().test_client()
    response = client.get("/link/abc")
    request_id = response.headers["X-Request-Id"]
    assert len(request_id) == 32
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["event"] == "request"
    assert line["request_id"] == request_id
    assert line["app"] == APP
    assert line["route"] == "/link/<token>"
    assert line["status"] == 200
    assert line["method"] == "GET"
    assert line["client_id"] == "portail-elections"
    assert line["subject"] == "pseudo-123"
    assert line["level"] == "info"
    assert isinstance(line["process"], int)
    assert isinstance(line["duration_ms"], float)
    assert line["ts"].endswith("+00:00")


def test_the_proxys_request_id_is_kept_only_when_proxies_are_trusted(lines: list[str]) -> None:
    given = "0f8fad5b-d9cb-469f-a165-70867728950e"
    trusted = make(trusted_proxies=1).test_client().get("/link/a", headers={"X-Request-Id": given})
    assert trusted.headers["X-Request-Id"] == given
    untrusted = make().test_client().get("/link/a", headers={"X-Request-Id": given})
    assert untrusted.headers["X-Request-Id"] != given
    hostile = "<script>alert(1)</script>"
    garbage = make(trusted_proxies=1).test_client().get("/link/a", headers={"X-Request-Id": hostile})
    assert garbage.headers["X-Request-Id"] != hostile
    assert [json.loads(line)["request_id"] for line in lines] == [
        given,
        untrusted.headers["X-Request-Id"],
        garbage.headers["X-Request-Id"],
    ]


def test_an_exception_is_logged_as_its_type_and_frames_never_its_text() -> None:
    try:
        raise ValueError("claire.jullien@ac-dijon.fr")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, __import__("sys").exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert line["error"] == "ValueError"
    assert line["stack"][0].startswith("test_observability.py:")
    assert "ac-dijon" not in json.dumps(line)


def test_a_worker_serves_its_metrics_on_its_own_port() -> None:
    port = free_port()
    server = metrics.serve(port, "127.0.0.1", [metrics.ScrapeCollector("broken", lambda: 1 / 0)])
    assert server is not None
    try:
        metrics.JOB_RUNS.labels("test_job", "ok").inc()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        assert scraped(text, "elections_job_runs_total", job="test_job", outcome="ok") >= 1
        assert scraped(text, "elections_scrape_errors", collector="broken") == 1
    finally:
        server.close()
    assert metrics.serve(0) is None


def test_a_workers_rounds_are_counted_and_logged_as_jobs() -> None:
    import threading

    from infra.worker import run_until_stopped

    captured: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(self.format(record))

    handler = Capture()
    handler.setFormatter(JsonFormatter())
    jobs = logging.getLogger("elections.job")
    jobs.addHandler(handler)
    jobs.setLevel(logging.INFO)
    stop = threading.Event()
    rounds = iter([RuntimeError("claire.jullien@ac-dijon.fr"), 2, 0])

    def step(_stop: threading.Event) -> int:
        outcome = next(rounds)
        if isinstance(outcome, Exception):
            raise outcome
        if outcome == 0:
            stop.set()
        return outcome

    before = {
        outcome: value("elections_job_runs_total", job="test_worker", outcome=outcome) for outcome in ("ok", "failed")
    }
    try:
        run_until_stopped(step, name="test worker", every=0.01, stop=stop, longest_backoff=0.01)
    finally:
        jobs.removeHandler(handler)
    assert value("elections_job_runs_total", job="test_worker", outcome="failed") == before["failed"] + 1
    assert value("elections_job_runs_total", job="test_worker", outcome="ok") == before["ok"] + 2
    lines = [json.loads(line) for line in captured]
    assert [(line["outcome"], line.get("handled")) for line in lines] == [("failed", None), ("ok", 2)], "idle: no line"
    assert lines[0]["error"] == "RuntimeError" and lines[0]["event"] == "job" and lines[0]["job"] == "test_worker"
    assert "ac-dijon" not in "".join(captured)


def reference_line(record: logging.LogRecord) -> str:
    """The line as JsonFormatter first wrote it, every field through one ``json.dumps``: what the parts it now puts
    together must equal, byte for byte."""
    entry: dict[str, object] = {
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
    return json.dumps(entry, ensure_ascii=False, default=str)


def test_the_request_line_is_the_same_bytes_as_one_json_dumps_of_its_entry() -> None:
    """The observer hands the formatter its fields already serialised (from parts kept per route): the line is
    still exactly the JSON of the whole entry, notes (client, subject) included, for 200, 404 and 500 alike."""
    formatter = JsonFormatter()
    seen: list[tuple[str, str, dict[str, object]]] = []

    class Both(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append((formatter.format(record), reference_line(record), dict(getattr(record, FIELDS))))

    handler = Both()
    logger = logging.getLogger("elections.request")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        client = make().test_client()
        for path in ["/link/abc", "/link/abc", "/nothing", "/boom"]:
            client.get(path)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    assert [fields["status"] for _, _, fields in seen] == [200, 200, 404, 500]
    assert seen[0][2]["client_id"] == "portail-elections" and seen[0][2]["subject"] == "pseudo-123"
    for line, reference, _ in seen:
        assert line == reference
        assert json.loads(line)["request_id"]


def test_the_formatter_writes_what_one_json_dumps_would_for_any_record() -> None:
    """Timestamps at the edge of a millisecond and of a second (rounded to the microsecond half to even, as
    ``datetime.fromtimestamp``), text to escape and not ASCII, fields of any JSON type or none, fields naming one of
    the line's own members (merged in its place), with and without a request id."""
    formatter = JsonFormatter()
    chance = random.Random(12)
    edges = [0.0, 0.0000005, 0.0000004999, 0.9995, 0.9999994999, 0.9999995, 0.9999999, 0.5]
    field_sets: list[object] = [
        None,
        {},
        "not a dict",
        {"a": 1, "b": 'é "quoted" \\ \u2028\n', "c": dt.date(2026, 12, 6), "d": [1.5, None, True]},
        {"message": "replaced in place", "z": 1},
        {"level": 3},
        {"request_id": "from the fields"},
    ]
    for _ in range(20_000):
        level = chance.choice([logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR])
        record = logging.LogRecord("elections.test", level, __file__, 1, 'é %s "%s"\n', (chance.random(), "x"), None)
        record.created = chance.randrange(0, 2_000_000_000) + chance.choice([*edges, chance.random()])
        fields = chance.choice(field_sets)
        if fields is not None:
            setattr(record, FIELDS, fields)
        token = REQUEST_ID.set(chance.choice([None, "", 'id"with\\quote', uuid.uuid4().hex]))
        try:
            assert formatter.format(record) == reference_line(record)
        finally:
            REQUEST_ID.reset(token)


def test_a_request_id_the_app_draws_is_a_random_uuid() -> None:
    drawn = {observability.new_request_id() for _ in range(1000)}
    assert len(drawn) == 1000
    for request_id in drawn:
        assert len(request_id) == 32
        assert uuid.UUID(hex=request_id).hex == request_id
        assert uuid.UUID(hex=request_id).version == 4


def test_the_request_record_is_the_one_logger_log_would_make_in_every_thread() -> None:
    """The record is copied from a per-thread template: every attribute is what ``Logger.makeRecord`` gives for the
    same call (thread, process, logger, file, level, message, fields), but its time."""
    import threading

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger = logging.getLogger("elections.request")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    app = make()
    try:
        app.test_client().get("/link/abc")
        worker = threading.Thread(target=lambda: app.test_client().get("/boom"), name="another-thread")
        worker.start()
        worker.join()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    assert len(records) == 2
    # Its time, and what a formatter (pytest's) sets on it.
    timing = {"created", "msecs", "relativeCreated", "message", "asctime"}
    for record, thread in zip(records, ["MainThread", "another-thread"], strict=True):
        assert record.threadName == thread
        extra = {FIELDS: getattr(record, FIELDS), "fields_json": getattr(record, "fields_json")}
        made = logger.makeRecord(
            logger.name, record.levelno, record.pathname, record.lineno, record.msg, record.args, None, "_record", extra
        )
        made.thread, made.threadName = record.thread, record.threadName
        assert {k: v for k, v in vars(record).items() if k not in timing} == {
            k: v for k, v in vars(made).items() if k not in timing
        }
        assert abs(record.created - made.created) < 5
        assert record.msecs == int((record.created - int(record.created)) * 1000)
    assert [r.levelname for r in records] == ["INFO", "ERROR"]
    assert records[0].getMessage() == "GET /link/<token> 200"
