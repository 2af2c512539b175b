"""The image CAPTCHA is drawn in Atkinson Hyperlegible, at its size, in dark ink on a light background.

Legibility itself is measured by ``python -m benchmarks.captcha_legibility`` (an OCR reads samples); these tests pin
what that measure depends on, so that a change of font or colours cannot slip in unnoticed.
"""

from __future__ import annotations

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
