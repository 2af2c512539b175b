"""The image CAPTCHA is drawn in Atkinson Hyperlegible, at its size, in dark ink on a light background.

Legibility itself is measured by ``python -m benchmarks.captcha_legibility`` (an OCR reads samples); these tests pin
what that measure depends on, so that a change of font or colours cannot slip in unnoticed.
"""

from __future__ import annotations

import collections
import io
import random
from typing import Any

import captcha.image as captcha_library
import pytest
from captcha.image import ImageCaptcha
from PIL import ImageChops
from PIL.Image import Image
from PIL.Image import open as open_image
from PIL.ImageFilter import SMOOTH

from captcha_challenge.image import FONT, HEIGHT, WIDTH, Draws, LegibleCaptcha


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
    """The three draws the drawing makes (``secrets``' ``choice``, ``randbelow`` and ``randbits``) from one seeded
    generator: the library (through its ``secrets``) and :class:`LegibleCaptcha` (through its draws) given the same
    seed make the same random choices, in the same order."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def choice(self, items: Any) -> Any:
        return self._random.choice(items)

    def randbelow(self, n: int) -> int:
        return self._random.randrange(n)

    def randbits(self, k: int) -> int:
        return self._random.getrandbits(k)


class _Library(ImageCaptcha):
    """The ``captcha`` library's own drawing, in colour, with :class:`LegibleCaptcha`'s settings."""

    character_offset_dx = LegibleCaptcha.character_offset_dx
    character_offset_dy = LegibleCaptcha.character_offset_dy
    character_rotate = LegibleCaptcha.character_rotate
    character_warp_dx = LegibleCaptcha.character_warp_dx
    character_warp_dy = LegibleCaptcha.character_warp_dy
    word_space_probability = LegibleCaptcha.word_space_probability
    word_offset_dx = LegibleCaptcha.word_offset_dx
    lookup_table = LegibleCaptcha.lookup_table

    def __init__(self) -> None:
        super().__init__(width=WIDTH, height=HEIGHT, fonts=[str(FONT)], font_sizes=(46, 50, 54))

    def draw(self, chars: str, background: tuple[int, int, int], ink: tuple[int, int, int, int]) -> tuple[Image, Image]:
        """What the library's ``generate_image`` draws before the smoothing, and after."""
        image = self.create_captcha_image(chars, ink, background)
        self.create_noise_dots(image, ink, width=2, number=18)
        self.create_noise_curve(image, ink)
        return image, image.filter(SMOOTH)


def _draw_both(seed: int, monkeypatch: pytest.MonkeyPatch) -> tuple[Image, Image, Image, Image]:
    """The library's image before and after the smoothing, and ours (before the smoothing: its ink channel, noise
    included; after: the image in RGB), for one seed's answer, colours and random draws."""
    chooser = random.Random(seed)
    answer = f"{chooser.randrange(100_000):05}"
    background = (240 + chooser.randrange(16), 240 + chooser.randrange(16), 240 + chooser.randrange(16))
    ink = (chooser.randrange(50), chooser.randrange(50), 30 + chooser.randrange(70), 255)
    monkeypatch.setattr(captcha_library, "secrets", _Seeded(seed))
    library_before, library_after = _Library().draw(answer, background, ink)
    ours = LegibleCaptcha()
    monkeypatch.setattr(ours, "_draws", lambda: _Seeded(seed))
    draws = _Seeded(seed)
    coverage = ours.create_noise_curve(ours.create_noise_dots(ours.coverage(answer, draws), draws), draws)
    return library_before, library_after, coverage, ours.generate_image(answer, background, ink)


def _share_differing(a: Image, b: Image, by_more_than: int) -> float:
    """The share of pixels where two images of one mode differ by more than ``by_more_than`` in some channel."""
    difference = ImageChops.difference(a, b)
    worst = difference.getchannel(0)
    for channel in range(1, len(difference.getbands())):
        worst = ImageChops.lighter(worst, difference.getchannel(channel))
    return sum(worst.histogram()[by_more_than + 1 :]) / (a.width * a.height)


def test_the_ink_covers_the_pixels_the_library_inks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drawn on one channel, the characters and the noise cover the pixels the library's colour drawing inks (for
    the same random choices) but along the faintest edge (0.2 % of the pixels on average); once smoothed and
    coloured, the image is the library's to within a tenth of the contrast (24 shades) on all but half a percent
    of its pixels. The drawing is the library's, not a look-alike."""
    inked, smoothed = [], []
    for seed in range(40):
        library_before, library_after, coverage, ours = _draw_both(seed, monkeypatch)
        library_ink = library_before.convert("L").point([255] * 128 + [0] * 128)  # dark: the ink
        assert {value for _, value in coverage.getcolors() or []} <= {0, 255}, "before smoothing: ink or nothing"
        inked.append(_share_differing(library_ink, coverage, 0))
        smoothed.append(_share_differing(library_after, ours, 24))
        assert inked[-1] < 0.005, (seed, inked[-1])  # measured: 0.07 % to 0.31 %
        assert smoothed[-1] < 0.01, (seed, smoothed[-1])  # measured: 0.12 % to 0.57 %
    assert sum(inked) / len(inked) < 0.0025, "on average the ink differs on fewer than 0.25 % of the pixels"


def test_the_palette_runs_from_the_background_to_the_ink() -> None:
    """Index 0 is the background, 255 the ink, and every index in between a mix; the RGB image is the palette's."""
    captcha = LegibleCaptcha()
    image = captcha.generate_palette_image("24680", (250, 245, 240), (10, 20, 90, 255))
    assert image.mode == "P" and image.size == (WIDTH, HEIGHT)
    palette = image.getpalette() or []
    assert palette[:3] == [250, 245, 240] and palette[765:768] == [10, 20, 90]
    assert palette[3 * 128 : 3 * 128 + 3] == [130, 132, 165]
    assert image.convert("RGB").getcolors(WIDTH * HEIGHT) is not None
    used = {index for _, index in image.getcolors() or []}
    assert 0 in used and 255 in used and len(used) > 10, "the background, the ink and the smoothed edges"


def test_the_png_is_a_palette_image_of_the_answer_s_drawing() -> None:
    data = LegibleCaptcha().png("13579")
    decoded = open_image(io.BytesIO(data))
    assert decoded.format == "PNG" and decoded.mode == "P" and decoded.size == (WIDTH, HEIGHT)
    assert len(data) < 6000, "8 bits a pixel: a few kilobytes"


def test_two_images_of_one_answer_differ() -> None:
    captcha = LegibleCaptcha()
    assert captcha.generate_image("11111").tobytes() != captcha.generate_image("11111").tobytes()


def test_glyphs_are_laid_out_once() -> None:
    captcha = LegibleCaptcha()
    captcha.png("0000000000")
    kept = dict(captcha._glyphs)
    assert kept and all(key[0] in "0 " for key in kept)
    captcha.png("0000000000")
    assert all(captcha._glyphs[key] is glyph for key, glyph in kept.items()), "the glyphs drawn are kept, not redrawn"


def test_draws_are_uniform_in_range_and_refill() -> None:
    draws = Draws()
    seen = collections.Counter(draws.randbelow(7) for _ in range(7000))
    assert set(seen) == set(range(7)) and min(seen.values()) > 800, seen
    assert {draws.randbelow(1) for _ in range(50)} == {0}
    words = [draws.randbits(32) for _ in range(3 * Draws.WORDS)]  # more than one read of the random source
    assert all(0 <= word < 2**32 for word in words) and len(set(words)) > 3 * Draws.WORDS - 3
    assert all(0 <= draws.randbits(5) < 32 for _ in range(100))
    assert draws.choice("ab") in "ab"
    with pytest.raises(ValueError):
        draws.randbits(33)
    with pytest.raises(ValueError):
        draws.randbelow(0)
