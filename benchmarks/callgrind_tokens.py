"""Instructions executed by the IdP's process per token request (callgrind): the code exchange, the refresh grant and
the client_credentials grant, a figure a loaded machine does not change, for before/after comparisons.

    .venv/bin/python -m benchmarks.callgrind_tokens [--requests 10] \\
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/0]

The IdP as :mod:`benchmarks.code_grant` sets it up (the real app and its signing keys; a client registered as the
portal is; a service registered for client_credentials), run under ``valgrind --tool=callgrind`` with collection
off. ``--requests`` codes (after 5 of warm-up) are redeemed as the portal's callback does, then the refresh token of
each answer is used once, then as many client_credentials requests are made; collection is switched on only around
the WSGI call of each (the request's environ is built outside it), through :mod:`benchmarks.callgrind_steps`' helper
(which also runs valgrind and reads the dumps).
Each request is dumped apart; the figure is the instructions of each, in the IdP's process only (the database and
Redis servers not), with the median per kind of request.
Slow (valgrind runs the whole process about 50 times slower): a few minutes.

To measure another tree, run it from that tree: ``cd <tree> && PYTHONPATH=. .venv/bin/python <this
tree>/benchmarks/callgrind_tokens.py …``.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import importlib
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

_ENV = "CALLGRIND_TOKENS_HELPER"
WARM_UP = 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10, help="measured requests of each kind (after 5)")
    parser.add_argument("--postgres", help="a scratch database on this PostgreSQL server (dropped at the end)")
    parser.add_argument("--redis", help="the ephemeral store in this Redis (a prefix of the run's own)")
    args = parser.parse_args(argv)
    if os.environ.get(_ENV):
        return _measure(args)
    if shutil.which("valgrind") is None or shutil.which("gcc") is None:
        print("callgrind_tokens needs valgrind and gcc (apt-get install valgrind gcc)", file=sys.stderr)
        return 2
    one, five, fifteen = os.getloadavg()
    print(f"callgrind_tokens: load average {one:.1f} {five:.1f} {fifteen:.1f} (instructions do not depend on it)")
    # This script run as a file (from another tree too): the tree it is run from first on the path.
    path = os.pathsep.join(filter(None, (os.getcwd(), os.environ.get("PYTHONPATH"))))
    child = [str(Path(__file__).resolve()), *(argv if argv is not None else sys.argv[1:])]
    counts = _steps().run_collecting(child, _ENV, {"PYTHONPATH": path})
    if isinstance(counts, int):
        return counts
    print(_format(counts))
    return 0


def _steps() -> ModuleType:
    """:mod:`benchmarks.callgrind_steps` of this file's own tree, which runs valgrind and reads its dumps (the tree
    measured, first on the child's path, may predate it)."""
    root = str(Path(__file__).resolve().parents[1])
    if sys.path[0] != root:
        sys.path.insert(0, root)
    return importlib.import_module("benchmarks.callgrind_steps")


def _summary(work: Path) -> str:
    counts: dict[str, list[int]] = _steps().read_counts(work)
    return _format(counts)


def _format(counts: dict[str, list[int]]) -> str:
    lines = []
    for kind, values in counts.items():
        shown = " ".join(f"{v / 1e6:.2f}" for v in values)
        lines.append(
            f"{kind}: median {statistics.median(values) / 1e6:.2f} M instructions ({len(values)} requests: {shown})"
        )
    return "\n".join(lines)


def _measure(args: argparse.Namespace) -> int:
    """In the process run by valgrind: the requests, collection switched on around each WSGI call."""
    from werkzeug.test import EnvironBuilder

    from benchmarks.code_grant import environ_of, store_codes
    from benchmarks.request_overhead import idp_app
    from tests.helpers import VoterFactory
    from tests.oidc_helpers import RP, install_keys, make_client, make_service_client

    helper = ctypes.CDLL(os.environ[_ENV])
    count = args.requests + WARM_UP
    with tempfile.TemporaryDirectory(prefix="idp-bench-") as tmp, idp_app(Path(tmp), args.postgres, args.redis) as app:
        install_keys(app)
        rp = make_client(app, grant_types=["authorization_code", "refresh_token"])
        service = make_service_client(app, "mesure:lecture")
        voter_id = VoterFactory(app).create("banc.callgrind@ac-exemple.fr").id

        def form(client: RP, body: dict[str, str]) -> dict[str, Any]:
            basic = "Basic " + base64.b64encode(f"{client.client_id}:{client.secret}".encode()).decode()
            return EnvironBuilder(
                path="/token",
                method="POST",
                base_url="https://127.0.0.1",
                headers={"Authorization": basic},
                data=body,
                content_type="application/x-www-form-urlencoded",
            ).get_environ()

        def call(kind: str, index: int, environ: dict[str, Any]) -> dict[str, Any]:
            seen: list[str] = []

            def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
                seen.append(status)

            measured = index >= WARM_UP
            if measured:
                helper.cg_begin()
            try:
                body = b"".join(app.wsgi_app(environ, start_response))
            finally:
                if measured:
                    helper.cg_end(kind.encode())
            if not seen or not seen[0].startswith("200"):
                raise RuntimeError(f"{kind} answered {seen}: {body[:300]!r}")
            answer: dict[str, Any] = json.loads(body)
            return answer

        refresh_tokens = [
            call("authorization_code", index, environ_of(rp, code, verifier))["refresh_token"]
            for index, (code, verifier) in enumerate(store_codes(app, rp, voter_id, count))
        ]
        for index, token in enumerate(refresh_tokens):
            call("refresh_token", index, form(rp, {"grant_type": "refresh_token", "refresh_token": token}))
        for index in range(count):
            call("client_credentials", index, form(service, {"grant_type": "client_credentials"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
