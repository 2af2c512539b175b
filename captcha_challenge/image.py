"""The image CAPTCHA: digits a person reads at the first try, drawn with the ``captcha`` library.

The library's defaults (DroidSansMono, characters turned up to 30°, strong warping, overlapping characters, random
colours down to pale ones) made newcomers misread 1 as 7 and 9 as 5. Here:

- **Atkinson Hyperlegible** (Braille Institute, SIL Open Font License, installed from PyPI by
  ``fontpkg-atkinson-hyperlegible``): a typeface drawn so that similar characters differ, for low-vision readers;
  its 1 has a flag and a base, its 7 a plain stem, its 9 and 5 different bowls;
- characters turned at most 6° and barely warped, side by side instead of overlapping;
- dark ink on a light background (contrast above 7:1), a few thin dots and one thin arc as noise.

How this was judged is in the documentation (Security, CAPTCHA) with the command that measures it
(``python -m benchmarks.captcha_legibility``). The CAPTCHA is not the sign-in's defence against automated guessing:
throttling and lockouts per identifier and per address are; the CAPTCHA makes each attempt cost a little more.
"""

from __future__ import annotations

import secrets

import fontpkg_atkinson_hyperlegible
from captcha.image import ColorTuple, ImageCaptcha
from PIL.Image import Image

WIDTH, HEIGHT = 220, 80
FONT = fontpkg_atkinson_hyperlegible.ROOT / "files" / "AtkinsonHyperlegible-Bold.ttf"


class LegibleCaptcha(ImageCaptcha):
    """``ImageCaptcha`` with a legible font, mild distortion and light noise (see the module docstring)."""

    character_offset_dx = (0, 2)
    character_offset_dy = (0, 4)
    character_rotate = (-6, 6)
    character_warp_dx = (0.0, 0.05)
    character_warp_dy = (0.0, 0.05)
    word_space_probability = 0.8
    word_offset_dx = 0.0
    #: The library pastes each character through a mask taken from the ink's brightness, which makes dark ink
    #: translucent (and the contrast low); every drawn pixel is pasted whole instead.
    lookup_table = [0] + [255] * 255

    def __init__(self) -> None:
        super().__init__(width=WIDTH, height=HEIGHT, fonts=[str(FONT)], font_sizes=(46, 50, 54))

    @staticmethod
    def create_noise_dots(image: Image, color: ColorTuple, width: int = 2, number: int = 18) -> Image:
        return ImageCaptcha.create_noise_dots(image, color, width=width, number=number)

    def generate_image(
        self, chars: str, bg_color: ColorTuple | None = None, fg_color: ColorTuple | None = None
    ) -> Image:
        return super().generate_image(chars, bg_color=bg_color or _light(), fg_color=fg_color or _dark())


def _light() -> tuple[int, int, int]:
    """A background between #f0f0f0 and #ffffff."""
    return (240 + secrets.randbelow(16), 240 + secrets.randbelow(16), 240 + secrets.randbelow(16))


def _dark() -> tuple[int, int, int, int]:
    """Ink no lighter than #313163 (a dark blue): above 10:1 against any of the backgrounds, so that the strokes
    keep more than 7:1 once the image is smoothed. Never pure black, whose brightness would make the paste mask
    empty."""
    return (secrets.randbelow(50), secrets.randbelow(50), 30 + secrets.randbelow(70), 255)
