"""The image CAPTCHA is drawn in Atkinson Hyperlegible, at its size, in dark ink on a light background.

Legibility itself is measured by ``python -m benchmarks.captcha_legibility`` (an OCR reads samples); these tests pin
what that measure depends on, so that a change of font or colours cannot slip in unnoticed.
"""

from __future__ import annotations

import random
from typing import Any

import captcha.image as captcha_library
import pytest
from captcha.image import ImageCaptcha

import captcha_challenge.image as captcha_image
from captcha_challenge.image import FONT, HEIGHT, WIDTH, LegibleCaptcha


def _luminance(pixel: tuple[int, int, int]) -> float:
    """WCAG relative luminance of an sRGB colour."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in pixel)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_the_font_is_atkinson_hyperlegible_and_ships_installed() -> None:
    captcha = LegibleCaptcha()
    assert FONT.is_file() and FONT.name == "AtkinsonHyperlegible-Bold.ttf"
    assert {font.path for font in captcha.truefonts} == {str(FONT)}


def test_dark_ink_on_a_light_background() -> None:
    for _ in range(20):
        image = LegibleCaptcha().generate_image("1795").convert("RGB")
        assert image.size == (WIDTH, HEIGHT)
        colours = [colour for _, colour in image.getcolors(WIDTH * HEIGHT)]
        darkest = min(_luminance(c) for c in colours)
        lightest = max(_luminance(c) for c in colours)
        assert (lightest + 0.05) / (darkest + 0.05) >= 7, "the ink must stand out (WCAG AAA contrast, 7:1)"


class _Seeded:
    """``secrets``' three functions the drawing calls, from one seeded generator: two drawings of one seed make the
    same random choices, in the same order."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def choice(self, items: Any) -> Any:
        return self._random.choice(items)

    def randbelow(self, n: int) -> int:
        return self._random.randrange(n)

    def randbits(self, k: int) -> int:
        return self._random.getrandbits(k)


class _AsTheLibraryDraws(LegibleCaptcha):
    """Each character laid out and rasterised again, as the library's own ``_draw_character`` does."""

    _draw_character = ImageCaptcha._draw_character


def test_glyphs_drawn_once_give_the_pixels_the_library_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    """The glyph cache changes what is computed, not what is drawn: for the same random choices, every image is the
    library's, pixel for pixel (so the OCR resistance measured by the legibility benchmark is unchanged)."""
    cached, library = LegibleCaptcha(), _AsTheLibraryDraws()
    for seed in range(60):
        answer = f"{random.Random(seed).randrange(100_000):05}"
        drawn = []
        for captcha in (cached, library):
            seeded = _Seeded(seed)
            monkeypatch.setattr(captcha_library, "secrets", seeded)
            monkeypatch.setattr(captcha_image, "secrets", seeded)
            drawn.append(captcha.generate_image(answer).tobytes())
        assert drawn[0] == drawn[1], answer
    assert cached._glyphs, "the glyphs were kept"
