"""The console's factory freezes the loaded app out of full collections (infra.gc_tuning), unless GC_FREEZE=0."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from tests.gc_freeze import check_factory_freezes, unfrozen

__all__ = ["unfrozen"]


@pytest.mark.usefixtures("unfrozen")
def test_factory_freezes(make_console: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch) -> None:
    check_factory_freezes(make_console, monkeypatch)
