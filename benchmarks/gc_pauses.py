"""What one full (generation 2) garbage collection costs a web worker once its app is built: the objects it walks
and the CPU of this thread, median of ``--runs`` collections.

    .venv/bin/python -m benchmarks.gc_pauses --app idp|portal [--runs 7]

The app is the real factory's (``create_app``) on a throw-away SQLite database, as a granian worker builds it; the
figure is what a request pays when the collector picks it for a full collection. With the factory's freeze
(:mod:`infra.gc_tuning`) the loaded objects are in no generation; ``GC_FREEZE=0`` shows the cost without it.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from pathlib import Path

from flask import Flask

_COMMON = {
    "ENV": "testing",
    "TESTING": True,
    "SKIP_SCHEMA_CHECK": True,
    "PUBLIC_URL": "http://localhost",
    "SECRET_KEY": "gc-pauses-secret-key-not-for-production-0123456789",
    "CAPTCHA_BACKEND": "fixed:12345",
}


def build(app: str, folder: Path) -> Flask:
    """The ``app`` (``idp`` or ``portal``) as its factory builds it, on a SQLite database in ``folder``."""
    config = {**_COMMON, "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}"}
    if app == "idp":
        from idp import create_app

        return create_app({**config, "HMAC_KEY": "gc-pauses-hmac-key-not-for-production-0123456789"})
    from relying_party import create_app as create_portal

    return create_portal(
        {
            **config,
            "IDP_ISSUER": "http://127.0.0.1:9",
            "CLIENT_ID": "gc-pauses",
            "CLIENT_SECRET": "gc-pauses-client-secret-not-for-production",
        }
    )


def full_collection_ms(runs: int) -> list[float]:
    """CPU milliseconds of this thread for each of ``runs`` full collections."""
    spent = []
    for _ in range(runs):
        started = time.thread_time()
        gc.collect()
        spent.append((time.thread_time() - started) * 1000)
    return spent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", choices=("idp", "portal"), default="idp")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gc-pauses-") as folder:
        app = build(args.app, Path(folder))
        walked = len(gc.get_objects())
        spent = full_collection_ms(args.runs)
        print(
            f"{args.app}: {gc.get_freeze_count()} objects frozen, {walked} walked by a full collection; "
            f"its CPU {statistics.median(spent):.2f} ms (median of {args.runs}; min {min(spent):.2f}, "
            f"max {max(spent):.2f})"
        )
        del app


if __name__ == "__main__":
    main()
