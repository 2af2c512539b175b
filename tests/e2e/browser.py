"""Debian's chromium driven by Playwright, and the checks every screen of a journey goes through.

Each screen is saved (full page, at a desktop width and at 375 px, a small phone) under ``test-artifacts/e2e/``;
axe-core (the npm package of ``frontend/package.json``) checks it against WCAG 2.1 A and AA, and no serious or
critical violation passes; at 375 px nothing may be wider than the screen; the design system's stylesheet must
have loaded; and the browser must not have refused anything under the Content-Security-Policy.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, ViewportSize, sync_playwright

from tests import backends

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
#: Headless, and nothing the browser would fetch from the internet on its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 375, "height": 812}
#: RGAA 4 follows WCAG 2.1 A and AA.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = {"serious", "critical"}

_AXE_RUN = """async (tags) => {
  const results = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " :: " + n.failureSummary),
  }));
}"""


#: Boxes inside <main> that reach into the footer's box: content drawn over the footer (a box given a height it
#: cannot hold, a float not cleared...). Invisible boxes (no size) do not count.
_OVER_THE_FOOTER = r"""() => {
  const footer = document.querySelector("footer");
  if (!footer) { return []; }
  const f = footer.getBoundingClientRect();
  const found = [];
  for (const element of document.querySelectorAll("main *")) {
    const r = element.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) { continue; }
    if (r.bottom > f.top + 0.5 && r.top < f.bottom && r.right > f.left && r.left < f.right) {
      const id = element.id ? "#" + element.id : "";
      const names = typeof element.className === "string" ? element.className.trim() : "";
      const cls = names ? "." + names.split(/\s+/).join(".") : "";
      const where = `bottom ${Math.round(r.bottom)} > footer top ${Math.round(f.top)}`;
      found.push(`${element.tagName.toLowerCase()}${id}${cls} (${where})`);
    }
  }
  return found.slice(0, 5);
}"""


def over_the_footer(page: Page) -> list[str]:
    """What the page draws over its footer (empty when nothing does)."""
    found: list[str] = page.evaluate(_OVER_THE_FOOTER)
    return found


def require_tools() -> None:
    """The browser and axe-core are installed by the project's set-up; missing, skip here and fail in CI."""
    if not CHROMIUM.exists():
        backends.unavailable(f"{CHROMIUM} is missing: apt-get update && apt-get install -y chromium")
    if not AXE.exists():
        backends.unavailable(f"{AXE} is missing: npm ci --prefix frontend (make install)")


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless, launched once for the browser tests (each gets a context of its own)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def chromium_context(browser: Browser, *, javascript: bool = True) -> Iterator[BrowserContext]:
    """A fresh browser context: cookies, storage and cache of its own, as a new profile has, with a French locale
    and Paris time."""
    context = browser.new_context(
        viewport=DESKTOP, locale="fr-FR", timezone_id="Europe/Paris", java_script_enabled=javascript
    )
    context.set_default_timeout(20_000)
    try:
        yield context
    finally:
        context.close()


def artifact_dir(*parts: str) -> Path:
    directory = ARTIFACTS.joinpath(*(re.sub(r"[^\w.-]+", "_", part) for part in parts))
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


@dataclass
class Screens:
    """Checks and records the screens one page (tab) goes through."""

    page: Page
    directory: Path
    count: int = 0
    refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.refused.append(f"{self.page.url}: {message.text}")

    def check(self, name: str, *, ours: bool = True, accepted: tuple[str, ...] = ()) -> None:
        """Record the screen shown now; ``ours=False`` for the development FranceConnect provider's pages (a
        stand-in for a third party's site: recorded, not judged). ``accepted``: axe-core rules whose finding this
        screen answers otherwise (the test that passes it says how, and checks it)."""
        page = self.page
        page.wait_for_load_state("load")
        self.count += 1
        stem = f"{self.count:02d}-{name}"
        page.screenshot(path=str(self.directory / f"{stem}.png"), full_page=True)
        if ours:
            font = page.evaluate("getComputedStyle(document.body).fontFamily")
            assert "Marianne" in font, f"{name}: the DSFR's stylesheet did not load ({font!r}, {page.url})"
            violations = self.axe()
            (self.directory / f"{stem}-axe.json").write_text(
                json.dumps(violations, indent=2, ensure_ascii=False), encoding="utf-8"
            )
            blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS and v["id"] not in accepted]
            assert not blocking, f"{name} ({page.url}): " + json.dumps(blocking, indent=2, ensure_ascii=False)
            overlapping = over_the_footer(page)
            assert not overlapping, f"{name}: drawn over the footer at 1280 px ({page.url}): {overlapping}"
        page.set_viewport_size(PHONE)
        try:
            width = page.evaluate("document.documentElement.scrollWidth")
            overlapping_on_phone = over_the_footer(page) if ours else []
            page.screenshot(path=str(self.directory / f"{stem}-375px.png"), full_page=True)
        finally:
            page.set_viewport_size(DESKTOP)
        if ours:
            assert width <= PHONE["width"], f"{name}: {width} px wide at 375 px ({page.url})"
            assert not overlapping_on_phone, (
                f"{name}: drawn over the footer at 375 px ({page.url}): {overlapping_on_phone}"
            )
        assert not self.refused, "refused by the Content-Security-Policy:\n" + "\n".join(self.refused)

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's WCAG 2.1 A/AA violations on the current page.

        Not ``page.add_script_tag(path=AXE)``: that inlines the file in a <script> element, which the pages' CSP
        (script-src 'self', no inline) rightly refuses, and bypassing the CSP for the whole journey would hide the
        refusals this recorder checks for. The same file is evaluated through the DevTools protocol instead, which
        the page's CSP does not govern.
        """
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.evaluate(AXE.read_text(encoding="utf-8"))
        result: list[dict[str, Any]] = self.page.evaluate(_AXE_RUN, AXE_TAGS)
        return result
