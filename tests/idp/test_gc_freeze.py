"""The IdP's factory freezes the loaded app out of full collections (infra.gc_tuning), unless GC_FREEZE=0."""

from __future__ import annotations

from typing import Any

import pytest

from idp import create_app
from idp.db import get_db
from tests.gc_freeze import check_factory_freezes, unfrozen

__all__ = ["unfrozen"]


@pytest.mark.usefixtures("unfrozen")
def test_factory_freezes(app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    built = []

    def build() -> Any:
        built.append(create_app(app_config))
        return built[-1]

    try:
        check_factory_freezes(build, monkeypatch)
    finally:
        for app in built:
            get_db(app).dispose()
