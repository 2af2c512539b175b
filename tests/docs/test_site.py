"""The site builds with warnings as errors, stands alone, and fetches nothing from the internet.

``mkdocs build --strict`` fails on a broken link, a missing anchor, or a page left out of the nav (``validation`` in
mkdocs.yml turns each into a warning). The built pages must load no script, style sheet or font from another host:
the docs are read on networks that reach nothing outside.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        # The theme's notice about its end of life and MkDocs 2.0 is not about our pages.
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-4000:]}"
    return out


def test_every_page_is_built(site: Path) -> None:
    pages = sorted(path.relative_to(DOCS).with_suffix(".html") for path in DOCS.rglob("*.md"))
    assert pages, "no page under docs/"
    missing = [str(page) for page in pages if not (site / page).is_file()]
    assert not missing, f"pages not built: {missing}"


def test_no_asset_from_another_host(site: Path) -> None:
    remote = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=["']?(?:https?:)?//""", re.IGNORECASE)
    offenders = []
    for page in site.rglob("*.html"):
        offenders += [f"{page.relative_to(site)}: {match.group(0)}" for match in remote.finditer(page.read_text())]
    for sheet in site.rglob("*.css"):
        if re.search(r"@import\s+url\(\s*['\"]?https?:|url\(\s*['\"]?https?://", sheet.read_text(errors="replace")):
            offenders.append(str(sheet.relative_to(site)))
    assert not offenders, f"the built site would fetch from the internet: {offenders[:10]}"


def test_the_docs_stand_alone() -> None:
    """The docs never send the reader to files outside the repository."""
    for page in DOCS.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        outside = "../shared" in text or "DESIGN.md" in text
        assert not outside, f"{page.relative_to(REPO)} points outside the project"
