"""``PROMETHEUS_MULTIPROC_DIR`` usable before prometheus_client makes its first metric.

prometheus_client refuses to make a metric when the variable names no directory: every process would fail at start
for a metrics setting. So the directory is created if missing; if it cannot be (a read-only or foreign path), the
variable is dropped with one warning and this process keeps its metrics in memory.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def ensure_multiprocess_dir() -> None:
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        logger.warning("metrics: %s cannot be created (%s): metrics kept in memory", MULTIPROC_ENV, exc.strerror)
        del os.environ[MULTIPROC_ENV]
        from prometheus_client import values

        values.ValueClass = values.MutexValue  # chosen when prometheus_client was imported
