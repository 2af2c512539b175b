"""The image CAPTCHA: digits a person reads at the first try, drawn as the ``captcha`` library draws them.

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

**One channel, two colours.** The library draws every step in colour (each character in RGBA, pasted through a
mask of every pixel it touches, then the noise, then a 3 × 3 smoothing): until the smoothing, its image holds two
colours, the ink and the background. So this module draws the same steps — the same random draws in the same order,
the same rotation, resizing, warp, layout, dots, arc and smoothing — on a single channel, the ink's coverage (0 the
background, 255 the ink), and colours it last through a palette of 256 shades from the background to the ink: a
palette PNG, a third of the pixels' bytes to compress. Before the smoothing the ink covers the library's pixels
except along the faintest edge (about 0.2 % of the pixels, where a glyph covers less than 1 % of a pixel: the
library's choice there depends on rounding its colour); ``tests/idp/captcha/test_image.py`` compares the two.
"""

from __future__ import annotations

import io
import os
import threading
from array import array
from collections.abc import Sequence
from typing import TypeVar

import fontpkg_atkinson_hyperlegible
from captcha.image import ColorTuple, ImageCaptcha
from PIL.Image import Image, Resampling, Transform
from PIL.Image import composite as composite_images
from PIL.Image import frombytes as image_from_bytes
from PIL.Image import new as new_image
from PIL.ImageDraw import Draw, ImageDraw
from PIL.ImageFilter import SMOOTH

WIDTH, HEIGHT = 220, 80
_T = TypeVar("_T")
FONT = fontpkg_atkinson_hyperlegible.ROOT / "files" / "AtkinsonHyperlegible-Bold.ttf"

#: The library pastes a character wherever its colour is not black, i.e. wherever the glyph covers the pixel at all
#: but for the faintest edge; on the coverage channel that is a coverage above 2 (of 255), the threshold that agrees
#: best with the library's choice across ink colours.
INKED = [0] * 3 + [255] * 253
#: The palette's indices, 0 (background) to 255 (ink), as a 256 × 1 mask: the palette is the two colours composited
#: through it.
_RAMP = image_from_bytes("L", (256, 1), bytes(range(256)))


class Draws:
    """The random draws of one image (``choice``, ``randbelow`` and ``randbits`` as ``secrets`` has them, ``randbits``
    up to 32 bits), from one read of the operating system's random source (``os.urandom``, which ``secrets`` reads)
    instead of one read per draw: an image makes about 150 draws, at 1.4 µs each through ``secrets`` and about a
    fifth of that here. As uniform as ``secrets``: ``randbelow`` rejects the words beyond the largest multiple of
    ``n``."""

    WORDS = 128

    def __init__(self) -> None:
        self._words: list[int] = []

    def _word(self) -> int:
        if not self._words:
            self._words = list(array("I", os.urandom(4 * self.WORDS)))
        return self._words.pop()

    def randbits(self, k: int) -> int:
        if not 0 < k <= 32:
            raise ValueError(f"randbits: 1 to 32 bits, not {k}")
        return self._word() >> (32 - k)

    def randbelow(self, n: int) -> int:
        if n <= 0:
            raise ValueError("randbelow: n must be positive")
        limit = 2**32 - 2**32 % n
        word = self._word()
        while word >= limit:
            word = self._word()
        return word % n

    def choice(self, items: Sequence[_T]) -> _T:
        return items[self.randbelow(len(items))]


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
    #: translucent (and the contrast low); every drawn pixel is pasted whole instead (:data:`INKED`).
    lookup_table = [0] + [255] * 255

    def __init__(self) -> None:
        super().__init__(width=WIDTH, height=HEIGHT, fonts=[str(FONT)], font_sizes=(46, 50, 54))
        #: (character, font, dx, dy) → its bounding box's width and height and its coverage, cropped: what the
        #: library lays out and rasterises again for every character of every image (:meth:`_glyph`).
        self._glyphs: dict[tuple[str, int, int, int], tuple[int, int, Image]] = {}
        self._glyphs_lock = threading.Lock()
        self._layout = Draw(new_image("L", (1, 1)))

    def _glyph(self, c: str, font_index: int, dx: int, dy: int, draw: ImageDraw) -> tuple[int, int, Image]:
        """The library's layout (``multiline_textbbox``) and rasterisation (``text`` then ``crop``) of ``c`` at the
        offset ``(dx, dy)``, done once, as a coverage mask (mode L)."""
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

    def _draws(self) -> Draws:
        """A new image's random draws."""
        return Draws()

    def _draw_character(self, c: str, draws: Draws) -> Image:  # type: ignore[override]
        """The library's ``_draw_character`` (captcha 0.7.1: the same random draws, in the same order, the same
        operations) on the glyph's coverage from :meth:`_glyph`: the coverage turns, resizes and warps as the
        alpha of the library's colour image does."""
        font_index = self.truefonts.index(draws.choice(self.truefonts))
        lo_x, hi_x = self.character_offset_dx
        lo_y, hi_y = self.character_offset_dy
        dx1 = draws.randbelow(hi_x - lo_x + 1) + lo_x
        dy1 = draws.randbelow(hi_y - lo_y + 1) + lo_y
        w, h, mask = self._glyph(c, font_index, dx1, dy1, self._layout)
        low, high = self.character_rotate
        im = mask.rotate(low + (draws.randbits(32) / (2**32)) * (high - low), Resampling.BILINEAR, expand=True)
        warp_x, warp_y = self.character_warp_dx, self.character_warp_dy
        dx2 = w * (draws.randbits(32) / (2**32)) * (warp_x[1] - warp_x[0]) + warp_x[0]
        dy2 = h * (draws.randbits(32) / (2**32)) * (warp_y[1] - warp_y[0]) + warp_y[0]
        x1 = int(draws.randbits(32) / (2**32) * (dx2 - (-dx2)) + (-dx2))
        y1 = int(draws.randbits(32) / (2**32) * (dy2 - (-dy2)) + (-dy2))
        x2 = int(draws.randbits(32) / (2**32) * (dx2 - (-dx2)) + (-dx2))
        y2 = int(draws.randbits(32) / (2**32) * (dy2 - (-dy2)) + (-dy2))
        w2 = w + abs(x1) + abs(x2)
        h2 = h + abs(y1) + abs(y2)
        data = (x1, y1, -x1, h2 - y2, w2 + x2, h2 + y2, w2 - x2, -y1)
        im = im.resize((w2, h2))
        return im.transform((w, h), Transform.QUAD, data)

    def coverage(self, chars: str, draws: Draws) -> Image:
        """The library's ``create_captcha_image`` (the same random draws and layout) on the coverage channel (mode
        L): 255 wherever the library pastes ink, 0 elsewhere, then narrowed to the image's width as the library does
        when the characters are wider."""
        images: list[Image] = []
        for c in chars:
            if draws.randbits(32) / (2**32) > self.word_space_probability:
                images.append(self._draw_character(" ", draws))
            images.append(self._draw_character(c, draws))
        text_width = sum(im.size[0] for im in images)
        width = max(text_width, self._width)
        coverage = new_image("L", (width, self._height))
        average = int(text_width / len(chars))
        rand = int(self.word_offset_dx * average)
        offset = int(average * 0.1)
        for im in images:
            w, h = im.size
            box = (offset, int((self._height - h) / 2))
            if rand:  # characters may overlap: what is inked stays inked
                coverage.paste(im, box, im.point(INKED))
            else:  # side by side: each character's box is its own
                coverage.paste(im, box)
            offset = offset + w + (-draws.randbelow(rand + 1))
        inked = coverage.point(INKED)
        if width > self._width:
            inked = inked.resize((self._width, self._height))
        return inked

    def create_noise_dots(  # type: ignore[override]
        self, image: Image, draws: Draws, width: int = 2, number: int = 18
    ) -> Image:
        """The library's ``create_noise_dots`` (18 dots of 2 pixels), in ink."""
        draw = Draw(image)
        w, h = image.size
        for _ in range(number):
            x1 = draws.randbelow(w + 1)
            y1 = draws.randbelow(h + 1)
            draw.line(((x1, y1), (x1 - 1, y1 - 1)), fill=255, width=width)
        return image

    def create_noise_curve(self, image: Image, draws: Draws) -> Image:  # type: ignore[override]
        """The library's ``create_noise_curve`` (one thin arc), in ink."""
        w, h = image.size
        x1 = draws.randbelow(int(w / 5) + 1)
        x2 = draws.randbelow(w - int(w / 5) + 1) + int(w / 5)
        y1 = draws.randbelow(h - 2 * int(h / 5) + 1) + int(h / 5)
        y2 = draws.randbelow(h - y1 - int(h / 5) + 1) + y1
        end = draws.randbelow(41) + 160
        start = draws.randbelow(21)
        Draw(image).arc([x1, y1, x2, y2], start, end, fill=255)
        return image

    def generate_palette_image(
        self, chars: str, bg_color: ColorTuple | None = None, fg_color: ColorTuple | None = None
    ) -> Image:
        """The image (mode P): the library's ``generate_image`` drawn on the coverage channel (characters, dots,
        arc, smoothing), coloured last through a palette of 256 shades from the background to the ink."""
        draws = self._draws()
        background = bg_color or _light(draws)
        ink = fg_color or _dark(draws)
        image = self.coverage(chars, draws)
        self.create_noise_dots(image, draws)
        self.create_noise_curve(image, draws)
        image = image.filter(SMOOTH)
        image.putpalette(_palette(background, ink))
        return image

    def generate_image(
        self, chars: str, bg_color: ColorTuple | None = None, fg_color: ColorTuple | None = None
    ) -> Image:
        """The image in RGB: the pixels of :meth:`generate_palette_image`."""
        return self.generate_palette_image(chars, bg_color, fg_color).convert("RGB")

    def png(self, chars: str) -> bytes:
        """The image as a palette PNG (8 bits a pixel instead of 24), at zlib level 1 (the same pixels, lossless, for
        less CPU than the default level 6)."""
        out = io.BytesIO()
        self.generate_palette_image(chars).save(out, format="png", compress_level=1)
        return out.getvalue()


def _palette(background: ColorTuple, ink: ColorTuple) -> bytes:
    """256 colours: index ``i`` mixes ``i / 255`` of the ink with the background, as Pillow mixes a paste."""
    ink_row = new_image("RGB", (256, 1), ink[:3])
    return composite_images(ink_row, new_image("RGB", (256, 1), background[:3]), _RAMP).tobytes()


def _light(draws: Draws) -> tuple[int, int, int]:
    """A background between #f0f0f0 and #ffffff."""
    return (240 + draws.randbelow(16), 240 + draws.randbelow(16), 240 + draws.randbelow(16))


def _dark(draws: Draws) -> tuple[int, int, int, int]:
    """Ink no lighter than #313163 (a dark blue): above 10:1 against any of the backgrounds, so that the strokes
    keep more than 7:1 once the image is smoothed."""
    return (draws.randbelow(50), draws.randbelow(50), 30 + draws.randbelow(70), 255)
