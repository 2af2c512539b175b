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
import threading

import fontpkg_atkinson_hyperlegible
from captcha.image import ColorTuple, ImageCaptcha
from PIL.Image import Image, Resampling, Transform
from PIL.Image import new as new_image
from PIL.ImageDraw import Draw, ImageDraw

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
        #: (character, font, dx, dy) → its bounding box's width and height and its coverage, cropped: what the
        #: library lays out and rasterises again for every character of every image (:meth:`_glyph`).
        self._glyphs: dict[tuple[str, int, int, int], tuple[int, int, Image]] = {}
        self._glyphs_lock = threading.Lock()

    def _glyph(self, c: str, font_index: int, dx: int, dy: int, draw: ImageDraw) -> tuple[int, int, Image]:
        """The library's layout (``multiline_textbbox``) and rasterisation (``text`` then ``crop``) of ``c`` at the
        offset ``(dx, dy)``, done once: as a coverage mask (mode L), which :meth:`_draw_character` inks in the
        image's colour through the same ``draw_bitmap`` the library's ``text`` ends in — the same pixels."""
        key = (c, font_index, dx, dy)
        glyph = self._glyphs.get(key)
        if glyph is None:
            font = self.truefonts[font_index]
            _, _, w, h = draw.multiline_textbbox((1, 1), c, font=font)
            mask = new_image("L", (int(w) + dx, int(h) + dy))
            Draw(mask).text((dx, dy), c, font=font, fill=255)
            glyph = (int(w), int(h), mask.crop(mask.getbbox()))
            with self._glyphs_lock:
                self._glyphs[key] = glyph
        return glyph

    def _draw_character(self, c: str, draw: ImageDraw, color: ColorTuple) -> Image:
        """The library's ``_draw_character`` (captcha 0.7.1: the same random draws, in the same order, the same
        operations) with the character's glyph from :meth:`_glyph` instead of laid out and rasterised again."""
        font_index = self.truefonts.index(secrets.choice(self.truefonts))
        lo_x, hi_x = self.character_offset_dx
        lo_y, hi_y = self.character_offset_dy
        dx1 = secrets.randbelow(hi_x - lo_x + 1) + lo_x
        dy1 = secrets.randbelow(hi_y - lo_y + 1) + lo_y
        w, h, mask = self._glyph(c, font_index, dx1, dy1, draw)
        im = new_image("RGBA", mask.size)
        Draw(im).bitmap((0, 0), mask, fill=color)
        low, high = self.character_rotate
        im = im.rotate(low + (secrets.randbits(32) / (2**32)) * (high - low), Resampling.BILINEAR, expand=True)
        warp_x, warp_y = self.character_warp_dx, self.character_warp_dy
        dx2 = w * (secrets.randbits(32) / (2**32)) * (warp_x[1] - warp_x[0]) + warp_x[0]
        dy2 = h * (secrets.randbits(32) / (2**32)) * (warp_y[1] - warp_y[0]) + warp_y[0]
        x1 = int(secrets.randbits(32) / (2**32) * (dx2 - (-dx2)) + (-dx2))
        y1 = int(secrets.randbits(32) / (2**32) * (dy2 - (-dy2)) + (-dy2))
        x2 = int(secrets.randbits(32) / (2**32) * (dx2 - (-dx2)) + (-dx2))
        y2 = int(secrets.randbits(32) / (2**32) * (dy2 - (-dy2)) + (-dy2))
        w2 = w + abs(x1) + abs(x2)
        h2 = h + abs(y1) + abs(y2)
        data = (x1, y1, -x1, h2 - y2, w2 + x2, h2 + y2, w2 - x2, -y1)
        im = im.resize((w2, h2))
        return im.transform((w, h), Transform.QUAD, data)

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
