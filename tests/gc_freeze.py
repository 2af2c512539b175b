"""What every app factory's test of :mod:`infra.gc_tuning` checks: the app built is in the collector's permanent
generation (frozen), unless ``GC_FREEZE`` says no."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from infra import gc_tuning


def walked_by_full_collections(obj: object) -> bool:
    """Whether a generation 2 collection would walk ``obj`` (frozen objects are in no generation)."""
    gc.collect()
    return any(candidate is obj for candidate in gc.get_objects(generation=2))


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """A process that has frozen nothing yet, as a worker before its factory; left the same way."""
    gc_tuning.forget_freeze()
    yield
    gc_tuning.forget_freeze()


def check_factory_freezes(build: Callable[[], Flask], monkeypatch: pytest.MonkeyPatch) -> None:
    """``build`` freezes the app it builds (and its imports) by default; ``GC_FREEZE=0`` leaves them walked."""
    monkeypatch.delenv(gc_tuning.ENV_VAR, raising=False)
    app = build()
    assert gc.get_freeze_count() > 0
    assert not walked_by_full_collections(app)
    assert not walked_by_full_collections(app.url_map)

    gc_tuning.forget_freeze()
    monkeypatch.setenv(gc_tuning.ENV_VAR, "0")
    app = build()
    assert gc.get_freeze_count() == 0
    assert walked_by_full_collections(app)
