"""Writes the thumbnailer's colour-management test images and what LittleCMS (through
Pillow's ImageCms) makes of them in sRGB: the reference the tests compare against.

    .venv/bin/python scripts/make_icc_testdata.py

Reads the CC0 profiles in imaging/testdata/icc/ (saucecontrol's Compact ICC
Profiles) and writes, beside them, images of three stripes each and expected.json. The
outputs are committed; run this again only to change them.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image, ImageCms

HERE = Path(__file__).resolve().parent.parent / "imaging/testdata/icc"
STRIPE, HEIGHT = 16, 16
# Saturated colours, where a wide-gamut profile differs most from sRGB, and a grey.
RGB_STRIPES = [(230, 40, 30), (60, 200, 70), (128, 128, 128)]
# Ink percentages as 0-255: a red (magenta + yellow), a cyan, a 50 % black.
CMYK_STRIPES = [(0, 255, 255, 0), (255, 0, 0, 0), (0, 0, 0, 128)]


def stripes(mode: str, colours: list[tuple]) -> Image.Image:
    image = Image.new(mode, (STRIPE * len(colours), HEIGHT))
    for index, colour in enumerate(colours):
        image.paste(colour, (index * STRIPE, 0, (index + 1) * STRIPE, HEIGHT))
    return image


def managed(image: Image.Image, profile: bytes) -> list[list[int]]:
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    converted = ImageCms.profileToProfile(
        image, source, ImageCms.createProfile("sRGB"),
        renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB")
    return [list(converted.getpixel((index * STRIPE + STRIPE // 2, HEIGHT // 2))) for index in range(3)]


def main() -> None:
    p3 = (HERE / "DisplayP3-v4.icc").read_bytes()
    adobe = (HERE / "AdobeCompat-v4.icc").read_bytes()
    cmyk = (HERE / "CGATS001Compat-v2-micro.icc").read_bytes()
    rgb, ink = stripes("RGB", RGB_STRIPES), stripes("CMYK", CMYK_STRIPES)
    rgb.save(HERE / "display-p3.png", icc_profile=p3)
    rgb.save(HERE / "display-p3.jpg", quality=100, subsampling=0, icc_profile=p3)
    rgb.save(HERE / "adobe-rgb.jpg", quality=100, subsampling=0, icc_profile=adobe)
    ink.save(HERE / "cmyk.jpg", quality=100, icc_profile=cmyk)  # Pillow writes Adobe's inverted CMYK
    expected = {
        "littlecms": ImageCms.core.littlecms_version,
        "stripes": {"rgb": RGB_STRIPES, "cmyk": CMYK_STRIPES},
        "display-p3.png": managed(rgb, p3),
        "display-p3.jpg": managed(rgb, p3),
        "adobe-rgb.jpg": managed(rgb, adobe),
        "cmyk.jpg": managed(ink, cmyk),
    }
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(json.dumps(expected))


if __name__ == "__main__":
    main()
