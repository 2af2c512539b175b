"""How legible the image CAPTCHA's digits are: the library's defaults beside the IdP's ``LegibleCaptcha``.

Five-digit CAPTCHAs are drawn with each setting and read by an OCR (Tesseract, ``apt-get install tesseract-ocr``),
which stands in for a reader, twice: without the noise (the shapes alone: the font, the turn and the warp) and
exactly as served (with the dots and the arc). For each, the share read exactly, and, among the images read with
five digits, which digit was read as which other one (1→7 and 9→5 are what people reported). People see through a
few dots and an arc more easily than an OCR does, so the first measure is the closer one to a person's misreadings.

An OCR is not a person: the figures compare the two settings under one reader; they do not replace a test with
people. Run:

    .venv/bin/python -m benchmarks.captcha_legibility [--images 50]
"""

from __future__ import annotations

import argparse
import collections
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from captcha.image import ImageCaptcha
from PIL.Image import Image
from PIL.Image import new as new_image

from captcha_challenge.image import LegibleCaptcha
from captcha_challenge.service import ALPHABET

TESSERACT = shutil.which("tesseract")


def _read(image: Image, work: Path) -> str | None:
    """What Tesseract reads on ``image``, or None when it crashed on it (it does, rarely, on some warps)."""
    assert TESSERACT is not None
    path = work / "sample.png"
    # Twice the size, on a white margin: Tesseract's own needs, the same for both settings.
    page = new_image("RGB", (image.width * 2 + 80, image.height * 2 + 80), "white")
    page.paste(image.resize((image.width * 2, image.height * 2)), (40, 40))
    page.save(path)
    done = subprocess.run(
        [TESSERACT, str(path), "-", "--psm", "7", "-c", f"tessedit_char_whitelist={ALPHABET}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    return "".join(done.stdout.split())


class _Plain(ImageCaptcha):
    """The library as the IdP used it before: defaults, 220 × 80."""

    def __init__(self) -> None:
        super().__init__(width=220, height=80)


def _without_noise(captcha: ImageCaptcha) -> ImageCaptcha:
    """The same drawing of characters, with the noise turned off (the shapes alone)."""
    captcha.create_noise_dots = lambda image, *args, **kwargs: image  # type: ignore[method-assign]
    captcha.create_noise_curve = lambda image, *args, **kwargs: image  # type: ignore[method-assign]
    return captcha


Confusions = collections.Counter[tuple[str, str]]


def read_back(make: Callable[[], ImageCaptcha], count: int, noise: bool, work: Path) -> tuple[int, Confusions, int]:
    """Of ``count`` CAPTCHAs, how many were read exactly; the digits read as another one, by pair; and how many
    images the reader crashed on (counted as not read, reported, instead of ending the whole measure)."""
    captcha = make() if noise else _without_noise(make())
    exact = 0
    crashed = 0
    confused: Confusions = collections.Counter()
    for _ in range(count):
        answer = "".join(secrets.choice(ALPHABET) for _ in range(5))
        read = _read(captcha.generate_image(answer), work)
        if read is None:
            crashed += 1
            continue
        exact += read == answer
        if len(read) == len(answer):
            confused.update((a, b) for a, b in zip(answer, read, strict=True) if a != b)
    return exact, confused, crashed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--images", type=int, default=50, help="CAPTCHAs drawn and read per setting and measure")
    args = parser.parse_args(argv)
    if TESSERACT is None:
        # Outside CI a missing reader is reported and nothing is measured; CI installs it (.ci/run) and must measure.
        print("tesseract is missing (apt-get install tesseract-ocr): nothing measured", file=sys.stderr)
        return 2 if os.environ.get("CI") == "true" else 0
    version = subprocess.run([TESSERACT, "--version"], capture_output=True, text=True, check=False)
    print(f"reader: {version.stdout.splitlines()[0] if version.stdout else 'tesseract'}")
    settings: dict[str, Callable[[], ImageCaptcha]] = {
        "library defaults (DroidSansMono, ±30°)": _Plain,
        "LegibleCaptcha (Atkinson Hyperlegible, ±6°)": LegibleCaptcha,
    }
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        for name, make in settings.items():
            print(name)
            for noise in (False, True):
                exact, pairs, crashed = read_back(make, args.images, noise, work)
                worst = ", ".join(f"{a}→{b} {n}" for (a, b), n in pairs.most_common(6)) or "none"
                label = "as served (noise)" if noise else "shapes only      "
                print(
                    f"  {label}: read exactly {exact}/{args.images} ({100 * exact / max(1, args.images):.0f} %);"
                    f" digits read as another: {sum(pairs.values())} ({worst})"
                    + (f"; the reader crashed on {crashed}" if crashed else "")
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
