"""The configuration reference is what ``tools/config_reference.py`` writes from the code, and every setting says
what it means."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("config_reference", REPO / "tools" / "config_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_setting_has_a_meaning() -> None:
    missing = _generator().undocumented()
    assert not missing, f"write a comment just above each of these in its DEFAULTS: {missing}"


def test_the_committed_page_is_what_the_code_generates() -> None:
    generator = _generator()
    committed = generator.PAGE.read_text(encoding="utf-8")
    page = generator.PAGE.relative_to(REPO)
    assert committed == generator.render(), f"{page} is out of date: run {generator.COMMAND}"


def test_every_setting_of_every_app_is_on_the_page() -> None:
    generator = _generator()
    page = generator.PAGE.read_text(encoding="utf-8")
    for source in generator.SOURCES:
        defaults = getattr(importlib.import_module(source.module), source.attribute)
        for name in defaults:
            assert f"| `{name}` | `{source.prefix}{name}` |" in page, f"{source.prefix}{name} is not documented"
