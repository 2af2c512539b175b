"""infra.gc_tuning: the objects alive when the factory ends are frozen, once per process, unless GC_FREEZE is off."""

from __future__ import annotations

import gc
import weakref

import pytest

from infra import gc_tuning
from tests.gc_freeze import unfrozen, walked_by_full_collections

__all__ = ["unfrozen"]


class Loaded:
    """An object of the loaded application."""


@pytest.mark.usefixtures("unfrozen")
def test_freezes_what_is_alive_once_per_process() -> None:
    loaded = Loaded()
    assert gc_tuning.freeze_loaded({}) is True
    assert gc.get_freeze_count() > 0
    assert not walked_by_full_collections(loaded)

    later = Loaded()  # an app built later in the same process (a test's): left to the collector
    assert gc_tuning.freeze_loaded({}) is False
    assert walked_by_full_collections(later)


@pytest.mark.usefixtures("unfrozen")
def test_garbage_of_loading_is_collected_not_frozen() -> None:
    garbage = Loaded()
    garbage.itself = garbage  # type: ignore[attr-defined]  # a cycle: only the collector frees it
    alive = weakref.ref(garbage)
    del garbage
    gc_tuning.freeze_loaded({})
    assert alive() is None


@pytest.mark.parametrize("value", ["0", "false", "no", "off", " OFF "])
@pytest.mark.usefixtures("unfrozen")
def test_the_setting_turns_it_off(value: str) -> None:
    assert gc_tuning.freeze_loaded({gc_tuning.ENV_VAR: value}) is False
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("value", ["1", "true", "on", "yes"])
def test_on_by_default_and_when_asked(value: str) -> None:
    assert gc_tuning.enabled({})
    assert gc_tuning.enabled({gc_tuning.ENV_VAR: value})
