"""Python's cyclic garbage collector, kept off the requests: what an app has loaded is frozen once it is built.

A full (generation 2) collection walks every container object the process tracks: the modules, the Flask app, its
templates, SQLAlchemy's mappings, Authlib's and argon2's objects; some 60 ms per collection in an IdP worker, paid
inside whichever request allocated the object that triggered it. None of those objects ever becomes garbage, so
:func:`freeze_loaded` moves them into the collector's permanent generation (:func:`gc.freeze`) once the app
factory has built the app: a later collection skips them. It runs in every worker process (each granian worker
calls the factory), and before the fork where a server loads the app first (gunicorn's ``preload_app``), which also
spares the children's copies of the parent's memory the collector's writes.

One setting, read from the environment by every app of the suite: ``GC_FREEZE=0`` (or ``false``, ``no``, ``off``)
leaves the collector as Python sets it. Only the first factory of a process freezes: an app built later in the
same process (a test building one app per test) would otherwise keep its predecessors' garbage forever.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping

#: The environment variable that turns freezing off (``0``, ``false``, ``no``, ``off``); on when unset.
ENV_VAR = "GC_FREEZE"
_OFF = frozenset({"0", "false", "no", "off"})

_frozen_once = False


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``GC_FREEZE`` in ``environ`` (default: the process's environment) leaves freezing on."""
    env = os.environ if environ is None else environ
    return env.get(ENV_VAR, "1").strip().lower() not in _OFF


def freeze_loaded(environ: Mapping[str, str] | None = None) -> bool:
    """Collect what loading left as garbage, then freeze every object alive (the app and its imports), once per
    process and unless ``GC_FREEZE`` says no. Returns whether this call froze."""
    global _frozen_once
    if _frozen_once or not enabled(environ):
        return False
    gc.collect()  # loading's own garbage is freed, not frozen
    gc.freeze()
    _frozen_once = True
    return True


def forget_freeze() -> None:
    """Back to a process that never froze (the tests of this module): every object in the collector's care again."""
    global _frozen_once
    gc.unfreeze()
    _frozen_once = False
